"""``python -m hftcore top``: the dashboard's figures in a terminal, for SSH sessions.

It reads the same snapshots as the browser page: from a running dashboard's websocket
(``python -m hftcore top [URL]``, default ``http://127.0.0.1:8765/``), or straight from an
engine in this process (``--demo``: the demo market maker on the bundled sample, paced).  It is
read only: the controls stay in the page (they need its confirmation step and the token).
Needs ``rich`` (``pip install 'hftcore[top]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from hftcore.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, CliError, command

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["format_ns", "render", "sparkline", "ws_url"]

_TOKEN_ENV = "HFTCORE_DASHBOARD_TOKEN"
_STATE_STYLE = {"ACTIVE": "bold green", "REDUCING": "bold yellow", "HALTED": "bold red"}
_BOOK_STYLE = {"synced": "green", "resyncing": "yellow", "stale": "yellow", "no data": "dim"}
_BLOCKS = " ▁▂▃▄▅▆▇█"


def format_ns(v: float | None) -> str:
    """``1234`` -> ``'1.23 µs'`` (as the page shows latencies)."""
    if v is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} ns"


def sparkline(values: list[float], width: int = 60) -> str:
    """A one-line chart of ``values`` (the last ``width`` of them) in block characters."""
    vals = values[-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return _BLOCKS[4] * len(vals)
    return "".join(_BLOCKS[1 + int((v - lo) / (hi - lo) * 7.999)] for v in vals)


def ws_url(url: str) -> tuple[str, str | None]:
    """A dashboard's page address -> its websocket address, and the token in the address's
    fragment if there is one (``#token=...``)."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"URL: http(s):// or ws(s):// expected, got {url!r}")
    token = None
    if parts.fragment.startswith("token="):
        token = parts.fragment[len("token="):]
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path.endswith("/ws") else parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", "")), token


def _d(v: Any) -> str:
    return "-" if v is None or v == "" else str(v)


def render(snap: dict[str, Any], hello: dict[str, Any] | None = None,
           max_rows: int = 8, width: int = 160) -> RenderableType:
    """The terminal view of one ``snapshot`` message (the figures of the page); below 140
    columns the sizes, sequences and fill columns are left out and instruments go by
    symbol when there is one venue."""
    from rich import box
    from rich.console import Group
    from rich.table import Table as _Table
    from rich.text import Text

    def Table(title: str, **_kw: Any) -> _Table:
        return _Table(title=title, title_justify="left", box=box.SIMPLE_HEAD,
                      padding=(0, 1), pad_edge=False, title_style="bold")

    wide = width >= 140
    one_venue = len({r["id"].split(":", 1)[0] for r in snap["instruments"]}) <= 1

    def name(iid: str) -> str:
        return iid.split(":", 1)[1] if one_venue and not wide else iid

    risk = snap["risk"]
    eng = snap["engine"]
    head = Text()
    head.append("hftcore top  ", style="bold")
    head.append(f"{snap.get('mode', '-')}  ")
    head.append(f" {risk['state']} ", style="reverse " + _STATE_STYLE.get(risk["state"], ""))
    if risk["killed"]:
        head.append("  kill switch engaged", style="bold red")
    head.append(f"   events {eng['events']:,} ({eng['events_per_s']:,.0f}/s)  messages/s "
                f"{eng['messages_per_s']:,.0f}  orders {eng['orders']:,}  fills "
                f"{eng['fills']:,}  update #{snap['seq']}")

    inst = Table(title="instruments")
    cols = ["instrument", "book", "bid size", "bid", "ask", "ask size", "spread", "msg/s",
            "messages", "seq", "chk ok/failed", "trades"]
    if not wide:
        cols = [c for c in cols if c not in ("bid size", "ask size", "seq", "messages")]
    for col in cols:
        inst.add_column(col if wide or col != "chk ok/failed" else "chk",
                        justify="left" if col in ("instrument", "book") else "right",
                        no_wrap=True)
    for r in snap["instruments"]:
        cells: dict[str, Any] = {
            "instrument": name(r["id"]),
            "book": Text(r["book"], style=_BOOK_STYLE.get(r["book"], "")),
            "bid size": _d(r["bid_size"]), "bid": Text(_d(r["bid"]), style="green"),
            "ask": Text(_d(r["ask"]), style="red"), "ask size": _d(r["ask_size"]),
            "spread": _d(r["spread"]), "msg/s": f"{r['msg_rate']:,.0f}",
            "messages": f"{r['messages']:,}", "seq": _d(r["sequence"] or None),
            "chk ok/failed": f"{r['checksums_ok']}/{r['checksums_failed']}",
            "chk": f"{r['checksums_ok']}/{r['checksums_failed']}",
            "trades": f"{r['trades_seen']:,}"}
        inst.add_row(*(cells[c] for c in cols))

    p = snap["pnl"]
    pnl = Table(title="PnL (quote at par, after fees)")
    for col in ("total", "realized", "unrealized", "fees", "turnover"):
        pnl.add_column(col, justify="right")
    pnl.add_row(Text(_d(p["total"]), style="red" if str(p["total"]).startswith("-")
                     else "green"), _d(p["realized"]), _d(p["unrealized"]), _d(p["fees"]),
                _d(p["turnover"]))
    pts = snap["equity"]["points"]
    scale = 10 ** snap["equity"]["decimals"]
    curve = Text("equity " + sparkline([v / scale for _t, v in pts]), style="cyan")

    pos = Table(title="positions")
    for col in ("instrument", "net", "avg price", "mark", "realized", "unrealized", "fees"):
        pos.add_column(col, justify="left" if col == "instrument" else "right", no_wrap=True)
    for x in snap["positions"][:max_rows]:
        pos.add_row(name(x["instrument"]), x["net"], _d(x["avg_price"]), _d(x["mark"]),
                    _d(x["realized"]), _d(x["unrealized"]), _d(x["fees"]))

    o = snap["orders"]
    orders = Table(title=f"orders: {o['working_count']} working, {o['total']:,} in all")
    ocols = ["", "id", "instrument", "side", "price", "size", "filled", "status / reason"]
    if not wide:
        ocols.remove("filled")
    for col in ocols:
        orders.add_column(col, justify="right" if col in ("price", "size", "filled")
                          else "left", no_wrap=True)
    for kind, rows in (("working", o["working"]), ("done", o["done"]),
                       ("rejected", o["rejected"])):
        for x in rows[-max_rows:] if kind == "working" else rows[:max_rows // 2]:
            row = [kind, x["id"], name(x["instrument"]),
                     Text(x["side"], style="green" if x["side"] == "BUY" else "red"),
                     x["price"], x["size"], x["filled"],
                     x["reason"] if kind == "rejected" else x["status"]]
            if not wide:
                del row[6]
            orders.add_row(*row)

    lat = Table(title="latency per stage (wall clock)")
    for col in ("stage", "count", "p50", "p90", "p99", "p99.9", "max"):
        lat.add_column(col, justify="left" if col == "stage" else "right")
    for r in snap["latency"]:
        lat.add_row(r["stage"], f"{r['count']:,}", *(format_ns(r.get(k)) for k in
                                                      ("p50", "p90", "p99", "p99.9", "max")))

    rk = Table(title="risk")
    rk.add_column("limit / reason")
    rk.add_column("used", justify="right")
    rk.add_column("limit", justify="right")
    rk.add_column("usage", justify="left")
    ex = risk["exposure"]
    rk.add_row("gross exposure", _d(ex["gross"]), "", "")
    rk.add_row("net exposure (worst)", _d(ex["net_worst"]), "", "")
    for u in risk["usage"][:max_rows]:
        ratio = u["ratio"] or 0.0
        filled = min(10, max(0, round(ratio * 10)))
        rk.add_row(f"{name(u['scope'])} {u['limit']}", _d(u["used"]), _d(u["value"]),
                   Text("█" * filled + "·" * (10 - filled) + f" {ratio:.0%}",
                        style="red" if ratio > 0.8 else "cyan"))
    for reason, n in sorted(risk["rejections"].items(), key=lambda kv: -kv[1])[:max_rows]:
        rk.add_row(Text(f"rejected: {reason}", style="yellow"), f"{n:,}", "", "")

    ven = Table(title="venues")
    for col in ("venue", "connection", "msg/s", "messages", "gaps", "decode errors",
                "resyncs"):
        ven.add_column(col, justify="left" if col in ("venue", "connection") else "right")
    for v in snap["venues"]:
        ven.add_row(v["venue"], Text(v["state"], style="green" if v["state"] in
                                     ("connected", "replay") else "red"),
                    f"{v['msg_rate']:,.0f}", f"{v['messages']:,}", str(v["gaps"]),
                    str(v["decode_errors"]), str(v["resyncs"]))

    parts: list[Any] = [head, inst, pnl, curve, pos, orders, lat, rk, ven]
    if snap.get("controls"):
        c = snap["controls"][-1]
        parts.append(Text(f"last control: #{c['seq']} {c['event']} {c.get('action', '')} "
                          f"{c.get('error', '')} ({c.get('by', '')})", style="magenta"))
    return Group(*parts)


async def _watch_server(url: str, token: str | None, once: bool,
                        show: Callable[[dict[str, Any], dict[str, Any] | None], None]) -> int:
    import aiohttp

    ws_address, url_token = ws_url(url)
    token = token or url_token
    hello: dict[str, Any] | None = None
    try:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(ws_address, max_msg_size=64 << 20) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = msg.json()
                kind = data.get("type")
                if kind == "hello":
                    hello = data
                    if token:
                        await ws.send_json({"type": "auth", "token": token})
                    elif not data.get("viewers_allowed", True):
                        raise CliError(f"the dashboard at {ws_address} shows nothing without "
                                       f"its token: --token or ${_TOKEN_ENV}", EXIT_USAGE)
                elif kind == "auth" and not data.get("ok"):
                    raise CliError("the dashboard refused the token", EXIT_USAGE)
                elif kind == "snapshot":
                    show(data, hello)
                    if once:
                        return EXIT_OK
    except (aiohttp.ClientError, OSError) as exc:
        raise CliError(f"cannot reach the dashboard at {ws_address}: {exc}", EXIT_INPUT) \
            from None
    raise CliError(f"the dashboard at {ws_address} closed the connection", EXIT_INPUT)


async def _watch_demo(args: argparse.Namespace,
                      show: Callable[[dict[str, Any], dict[str, Any] | None], None]) -> int:
    from hftcore.dashboard.demo import demo_engine
    from hftcore.dashboard.snapshot import SnapshotBuilder

    engine, replay, tape = demo_engine(pace=args.pace, laps=args.laps)
    builder = SnapshotBuilder(engine, tape=tape, gaps=replay.gap_counts)
    hello = builder.describe()
    task = asyncio.get_running_loop().create_task(replay.run())
    try:
        builder.build()                   # the first look: rates need two
        while True:
            await asyncio.sleep(1.0 / args.rate)
            show({"type": "snapshot", **builder.build()}, hello)
            if args.once or task.done():
                break
    finally:
        replay.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        engine.stop()
    return EXIT_OK


def _top_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", nargs="?", default="http://127.0.0.1:8765/",
                   help="the dashboard's address (default http://127.0.0.1:8765/)")
    p.add_argument("--token", default=None,
                   help=f"only for a dashboard that refuses viewers (default: ${_TOKEN_ENV})")
    p.add_argument("--demo", action="store_true",
                   help="run the demo market maker on the bundled sample here instead")
    p.add_argument("--pace", type=float, default=1.0, metavar="X",
                   help="with --demo: X times the recorded pace")
    p.add_argument("--laps", type=int, default=0, metavar="N",
                   help="with --demo: times through the sample (0: until Ctrl-C)")
    p.add_argument("--rate", type=float, default=2.0, metavar="HZ",
                   help="with --demo: screen updates per second")
    p.add_argument("--once", action="store_true", help="print one update and exit")
    p.add_argument("--rows", type=int, default=8, help="rows per table at most")


@command("top", "watch a running dashboard (or the demo) in the terminal", _top_args)
def _top(args: argparse.Namespace) -> int:
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        raise CliError("top needs rich: pip install 'hftcore[top]'", EXIT_USAGE) from None
    if args.demo and not (args.pace > 0 and args.rate > 0 and args.laps >= 0):
        raise CliError("--pace and --rate must be > 0, --laps >= 0", EXIT_USAGE)
    if args.rows <= 0:
        raise CliError("--rows must be > 0", EXIT_USAGE)
    console = Console()
    token = args.token or os.environ.get(_TOKEN_ENV) or None
    try:
        ws_url(args.url)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return asyncio.run(_run(args, console, token, Live))


async def _run(args: argparse.Namespace, console: Console, token: str | None,
               live_cls: Any) -> int:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, lambda: main.cancel() if main else None)
    rows = args.rows
    if args.once:
        def show(snap: dict[str, Any], hello: dict[str, Any] | None) -> None:
            console.print(render(snap, hello, rows, console.width))

        return await (_watch_demo(args, show) if args.demo
                      else _watch_server(args.url, token, True, show))
    with live_cls(console=console, auto_refresh=False, screen=console.is_terminal,
                  transient=False) as live:
        def update(snap: dict[str, Any], hello: dict[str, Any] | None) -> None:
            live.update(render(snap, hello, rows, console.width), refresh=True)

        try:
            return await (_watch_demo(args, update) if args.demo
                          else _watch_server(args.url, token, False, update))
        except asyncio.CancelledError:
            return EXIT_OK
