"""A live dashboard of an engine in the browser: books, orders, positions, PnL, latency, risk,
and the kill switch (``pip install hftcore[dashboard]``: aiohttp).

>>> dashboard = await hftcore.dashboard.serve(engine)             # doctest: +SKIP
>>> print(dashboard.url, dashboard.token)                         # doctest: +SKIP

The server runs on the event loop the engine runs on; it reads the engine only when it pushes
an update (``rate`` times a second at most, and only while a client is connected), so the hot
path never pays for it.  The page (HTML, JavaScript and CSS shipped in this package: no build
step, no CDN) works without internet.  See ``docs/dashboard.md`` for the JSON protocol and
``python -m hftcore demo --dashboard`` / ``python -m hftcore top`` for the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .controls import ACTIONS, ControlError, ControlJournal, Controls, engage_kill_switch
from .replay import PacedReplay
from .snapshot import PROTOCOL_VERSION, SnapshotBuilder, TradeTape
from .watch import TradeWatcher

if TYPE_CHECKING:
    from hftcore.engine import Engine

    from .server import Dashboard

__all__ = [
    "ACTIONS",
    "PROTOCOL_VERSION",
    "ControlError",
    "ControlJournal",
    "Controls",
    "Dashboard",
    "PacedReplay",
    "SnapshotBuilder",
    "TradeTape",
    "TradeWatcher",
    "engage_kill_switch",
    "serve",
]


def __getattr__(name: str) -> Any:
    # the server needs aiohttp (the ``dashboard`` extra): imported when first asked for
    if name == "Dashboard":
        from .server import Dashboard

        return Dashboard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def serve(engine: Engine, host: str = "127.0.0.1", port: int = 0,
                token: str | None = None, allow_viewers: bool = True,
                **options: Any) -> Dashboard:
    """Serve a dashboard of ``engine`` on the running event loop; returns it started.

    Parameters
    ----------
    engine : Engine
        Any engine (backtest replay, paper, live, observe), run on this event loop.
    host, port : str, int
        127.0.0.1 unless asked otherwise; port 0 picks a free port (see ``dashboard.url``).
    token : str, optional
        Unlocks the controls (kill switch, resume, risk limits); random when not given: print
        ``dashboard.token`` (or ``dashboard.control_url``) for the operator.
    allow_viewers : bool
        Connections without the token may watch (read only).
    **options
        Other :class:`Dashboard` parameters: ``rate``, ``depth``, ``tape``, ``gaps``,
        ``control_journal``, ``watch_trades``, ``max_clients``, ``send_timeout``,
        ``max_buffer``, ``sndbuf``, ``allowed_hosts``.
    """
    try:
        from .server import Dashboard
    except ImportError as exc:   # pragma: no cover - depends on the install
        raise ImportError("the dashboard needs aiohttp: pip install 'hftcore[dashboard]'") \
            from exc
    return await Dashboard(engine, host=host, port=port, token=token,
                           allow_viewers=allow_viewers, **options).start()
