"""The dashboard server: static page, websocket updates, controls (aiohttp).

Runs on the asyncio event loop the engine runs on, so every read of the engine and every
control happens between two of the engine's calls - never in the middle of one.  One task
builds a snapshot at the push rate while at least one client is subscribed (none at all
otherwise), encodes it once and offers the bytes to every client; each client's sender keeps
only the newest offer (updates are coalesced, never queued), and a client that cannot keep up
(a send blocked longer than ``send_timeout``, or more than ``max_buffer`` bytes waiting) is
dropped.  The engine never waits for a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from aiohttp import WSMsgType, web

import hftcore

from .controls import ControlError, ControlJournal, Controls, default_journal_path
from .snapshot import PROTOCOL_VERSION, SnapshotBuilder, TradeTape

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["Dashboard"]

log = logging.getLogger("hftcore.dashboard")

_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
_LOOPBACK_NAMES = frozenset(("localhost", "127.0.0.1", "::1"))
_MAX_MESSAGE = 16 * 1024
_MAX_AUTH_FAILURES = 5
_MAX_REPLIES = 64
_KILL_SWEEP_S = 10.0


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_token(token: object) -> str:
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, got {type(token).__name__}")
    if len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("token must be at least 16 printable ASCII characters without spaces")
    return token


class _Client:
    """One websocket connection: what it may do and its pending messages."""

    __slots__ = (
        "auth_failures",
        "authed",
        "dropped",
        "id",
        "latest",
        "peer",
        "replies",
        "sender",
        "sent",
        "skipped",
        "subscribed",
        "transport",
        "wake",
        "ws",
    )

    def __init__(self, cid: int, ws: Any, transport: Any, peer: str) -> None:
        self.id = cid
        self.ws = ws
        self.transport = transport
        self.peer = peer
        self.authed = False
        self.auth_failures = 0
        self.subscribed = False
        self.latest: bytes | None = None
        self.replies: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        self.sent = 0
        self.skipped = 0
        self.dropped = ""

    @property
    def who(self) -> str:
        return f"ws#{self.id} {self.peer}"

    def offer(self, payload: bytes) -> None:
        if self.latest is not None:
            self.skipped += 1              # coalesced: the newer state replaces it
        self.latest = payload
        self.wake.set()

    def reply(self, msg: dict[str, Any]) -> bool:
        if len(self.replies) >= _MAX_REPLIES:
            return False
        self.replies.append(orjson.dumps(msg))
        self.wake.set()
        return True


class Dashboard:
    """A dashboard on ``engine``: a page, a websocket of coalesced updates, and controls.

    Parameters
    ----------
    engine : Engine
        Any engine; the dashboard must run on the event loop the engine runs on.
    host, port : str, int
        Where to listen (127.0.0.1 unless asked otherwise; port 0 picks a free one).
    token : str, optional
        The secret that unlocks the controls (at least 16 characters); a random one by default
        (read it from :attr:`token` and print it where the operator sees it).
    allow_viewers : bool
        Let connections without the token see the updates (read only).  When False, a
        connection sees nothing until it sends the token.
    rate : float
        Updates per second at most (0.2 to 50).
    depth : int
        Book levels per side in each update.
    tape : TradeTape, optional
        Recent market trades (fed by a replay driver or :class:`TradeWatcher`).
    gaps : callable, optional
        ``{venue: sequence gaps}`` for the venue table (a replay's statistics).
    control_journal : path, optional
        The control journal (see :func:`~hftcore.dashboard.controls.default_journal_path`).
    watch_trades : bool
        Add a :class:`TradeWatcher` to the engine (before it starts) so live trades reach the
        tape: one Python call per market trade.
    max_clients : int
        Connections at most; more are refused (503).
    send_timeout : float
        A client whose update has not gone out in this many seconds is dropped.
    max_buffer : int
        A client with more than this many bytes waiting in its connection is dropped.
    sndbuf : int
        Kernel send buffer of each websocket connection (bounds what a stalled client holds).
    allowed_hosts : iterable of str, optional
        Host names accepted in requests' ``Host`` header (DNS-rebinding protection); by default
        the loopback names when listening on loopback, any otherwise.
    """

    def __init__(self, engine: Engine, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, allow_viewers: bool = True, rate: float = 5.0,
                 depth: int = 10, tape: TradeTape | None = None,
                 gaps: Callable[[], dict[str, int]] | None = None,
                 control_journal: str | Path | None = None, watch_trades: bool = False,
                 max_clients: int = 32, send_timeout: float = 2.0, max_buffer: int = 1 << 20,
                 sndbuf: int = 256 * 1024, allowed_hosts: Any = None) -> None:
        from hftcore.engine import Engine

        if not isinstance(engine, Engine):
            raise TypeError(f"engine must be a hftcore Engine, got {type(engine).__name__}")
        if not isinstance(host, str) or not host:
            raise TypeError("host must be a non-empty str")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535], got {port!r}")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.2 <= rate <= 50:
            raise ValueError(f"rate must be between 0.2 and 50 updates per second, got {rate!r}")
        if not isinstance(allow_viewers, bool):
            raise TypeError("allow_viewers must be a bool")
        for name, v in (("max_clients", max_clients), ("max_buffer", max_buffer),
                        ("sndbuf", sndbuf)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be an int > 0, got {v!r}")
        if isinstance(send_timeout, bool) or not isinstance(send_timeout, int | float) \
                or send_timeout <= 0:
            raise ValueError(f"send_timeout must be > 0 seconds, got {send_timeout!r}")
        self._token = _check_token(token) if token is not None else secrets.token_urlsafe(24)
        self.engine = engine
        self.host = host
        self.port = port
        self.allow_viewers = allow_viewers
        self.rate = float(rate)
        self.max_clients = max_clients
        self.send_timeout = float(send_timeout)
        self.max_buffer = max_buffer
        self.sndbuf = sndbuf
        if allowed_hosts is None:
            self.allowed_hosts: frozenset[str] | None = (
                _LOOPBACK_NAMES if _is_loopback(host) else None)
        else:
            self.allowed_hosts = frozenset(str(h) for h in allowed_hosts) | {host}
        self.tape = tape if tape is not None else TradeTape(len(engine.instruments))
        self.builder = SnapshotBuilder(engine, depth=depth, tape=self.tape, gaps=gaps)
        self.journal_path = Path(control_journal) if control_journal is not None \
            else default_journal_path(engine)
        self.journal = ControlJournal(self.journal_path)
        self.controls = Controls(engine, self.journal, on_applied=self._on_control)
        self.watcher = None
        if watch_trades:
            from .watch import TradeWatcher

            self.watcher = TradeWatcher(self.tape, engine)
            engine.add_strategy(self.watcher)
        self._static = {name: (resources.files(__package__).joinpath("static", name)
                               .read_bytes(), ctype) for name, ctype in _STATIC.items()}
        self._clients: set[_Client] = set()
        self._next_id = 1
        self._pusher: asyncio.Task[None] | None = None
        self._build_lock = asyncio.Lock()
        self._sweeper: asyncio.Task[None] | None = None
        self._runner: Any = None
        self._last_payload = b""
        self._last_built = 0.0
        self.stats = {"connections": 0, "snapshots": 0, "updates_sent": 0, "coalesced": 0,
                      "dropped_slow": 0, "refused_controls": 0, "controls": 0,
                      "auth_failures": 0, "bytes_sent": 0, "build_ns": 0, "build_cpu_ns": 0,
                      "max_part_ns": 0, "max_part_cpu_ns": 0}

    # -- the secret ------------------------------------------------------------------------------
    @property
    def token(self) -> str:
        """The control token (never sent by the server; print it for the operator)."""
        return self._token

    def _token_ok(self, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(),
                                                              self._token.encode())

    def __repr__(self) -> str:
        return (f"Dashboard(url={self.url!r}, clients={len(self._clients)}, "
                f"viewers={'allowed' if self.allow_viewers else 'token only'})")

    # -- life cycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The page's address (without the token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def control_url(self) -> str:
        """The page's address with the token in its fragment: a browser never sends a
        fragment to the server, and the page removes it from the address bar at once."""
        return f"{self.url}#token={self._token}"

    async def start(self) -> Dashboard:
        """Listen (on the running event loop); returns self."""
        app = web.Application(middlewares=[self._headers], client_max_size=_MAX_MESSAGE)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static_file)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/snapshot", self._api_snapshot)
        app.router.add_post("/api/control", self._api_control)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        for addr in runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                self.port = int(addr[1])
                break
        log.info("dashboard on %s (controls %s)", self.url,
                 "need the token" if self.allow_viewers else "and updates need the token")
        return self

    async def stop(self) -> None:
        """Close every connection, stop serving, close the control journal."""
        for task in (self._pusher, self._sweeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._pusher = self._sweeper = None
        for c in list(self._clients):
            self._drop(c, "")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.journal.close()

    async def __aenter__(self) -> Dashboard:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def clients(self) -> int:
        """Open websocket connections."""
        return len(self._clients)

    @property
    def subscribers(self) -> int:
        """Connections receiving updates."""
        return sum(1 for c in self._clients if c.subscribed)

    @property
    def pushing(self) -> bool:
        """Whether the update task runs (only while someone is subscribed)."""
        return self._pusher is not None and not self._pusher.done()

    # -- HTTP ----------------------------------------------------------------------------------
    def _host_ok(self, request: web.Request) -> bool:
        if self.allowed_hosts is None:
            return True
        host = request.host
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]")
        return name in self.allowed_hosts

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True                    # not a browser
        return urlsplit(origin).netloc == request.host

    @property
    def _headers(self) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Any) -> Any:
            if not self._host_ok(request):
                raise web.HTTPForbidden(text="unknown Host")
            resp = await handler(request)
            h = resp.headers
            h.setdefault("Content-Security-Policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; "
                         f"img-src 'self' data:; connect-src 'self' ws://{request.host}; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
            h.setdefault("X-Content-Type-Options", "nosniff")
            h.setdefault("X-Frame-Options", "DENY")
            h.setdefault("Referrer-Policy", "no-referrer")
            h.setdefault("Cache-Control", "no-store")
            return resp

        return middleware

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self._static or name == "index.html":
            raise web.HTTPNotFound()
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        body, ctype = self._static[name]
        return web.Response(body=body, content_type=ctype, charset="utf-8")

    def _bearer_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        return scheme.lower() == "bearer" and self._token_ok(given.strip())

    def _peer(self, request: web.Request) -> str:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return "?"

    async def _api_snapshot(self, request: web.Request) -> web.Response:
        if not self.allow_viewers and not self._bearer_ok(request):
            raise web.HTTPUnauthorized(text="this dashboard needs the token to view")
        return web.Response(body=await self._snapshot_payload(throttle=True),
                            content_type="application/json")

    async def _api_control(self, request: web.Request) -> web.Response:
        who = f"http {self._peer(request)}"
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="cross-origin request")
        try:
            msg = orjson.loads(await request.read())
        except (orjson.JSONDecodeError, ValueError):
            msg = None
        if not isinstance(msg, dict):
            raise web.HTTPBadRequest(text="a JSON object is expected")
        if not self._bearer_ok(request):
            self.stats["refused_controls"] += 1
            self.controls.refuse(msg.get("action"), who, "forbidden: controls need the token")
            return web.json_response({"type": "control_result", "ok": False,
                                      "error": "forbidden: controls need the token"},
                                     status=403)
        reply = self._control(msg, who)
        return web.json_response(reply, status=200 if reply["ok"] else 400,
                                 dumps=lambda o: orjson.dumps(o).decode())

    # -- websocket -----------------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="cross-origin websocket")
        if len(self._clients) >= self.max_clients:
            raise web.HTTPServiceUnavailable(text="too many dashboard connections")
        ws = web.WebSocketResponse(compress=False, max_msg_size=_MAX_MESSAGE, autoping=True)
        await ws.prepare(request)
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        client = _Client(self._next_id, ws, transport, self._peer(request))
        self._next_id += 1
        self._clients.add(client)
        self.stats["connections"] += 1
        client.sender = asyncio.get_running_loop().create_task(self._send_loop(client))
        client.reply(self._hello(client))
        if self.allow_viewers:
            self._subscribe(client)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_message(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    client.reply({"type": "error", "error": "text JSON messages only"})
                if client.dropped:
                    break
        finally:
            self._drop(client, client.dropped)
        return ws

    def _hello(self, client: _Client) -> dict[str, Any]:
        return {"type": "hello", "protocol": PROTOCOL_VERSION,
                "version": hftcore.__version__, **self.builder.describe(),
                "rate_hz": self.rate, "viewers_allowed": self.allow_viewers,
                "authenticated": client.authed, "client": client.id}

    def _subscribe(self, client: _Client) -> None:
        if client.subscribed:
            return
        client.subscribed = True
        if self._last_payload and time.monotonic() - self._last_built < 2.0 / self.rate:
            client.offer(self._last_payload)    # something to show at once
        if not self.pushing:
            self._pusher = asyncio.get_running_loop().create_task(self._push_loop())

    def _drop(self, client: _Client, reason: str) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        client.subscribed = False
        if reason:
            client.dropped = reason
            if reason == "slow":
                self.stats["dropped_slow"] += 1
                log.warning("dashboard: dropped %s: it did not keep up", client.who)
        if client.sender is not None and client.sender is not asyncio.current_task():
            client.sender.cancel()
        t = client.transport
        if t is not None and not t.is_closing():
            if reason:
                t.abort()                   # a slow peer gets no close handshake to wait on
            else:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().create_task(client.ws.close())

    async def _send_loop(self, client: _Client) -> None:
        ws = client.ws
        send_frame = getattr(ws, "send_frame", None)
        try:
            while client in self._clients:
                await client.wake.wait()
                client.wake.clear()
                while client.replies or client.latest is not None:
                    is_update = not client.replies
                    if is_update:
                        data = client.latest
                        client.latest = None
                    else:
                        data = client.replies.popleft()
                    assert data is not None
                    t = client.transport
                    if t is None or t.is_closing():
                        return
                    if t.get_write_buffer_size() > self.max_buffer:
                        self._drop(client, "slow")
                        return
                    try:
                        if send_frame is not None:
                            await asyncio.wait_for(send_frame(data, WSMsgType.TEXT),
                                                   self.send_timeout)
                        else:
                            await asyncio.wait_for(ws.send_str(data.decode()), self.send_timeout)
                    except TimeoutError:
                        self._drop(client, "slow")
                        return
                    except (ConnectionError, RuntimeError):
                        self._drop(client, "")
                        return
                    self.stats["bytes_sent"] += len(data)
                    if is_update:
                        client.sent += 1
                        self.stats["updates_sent"] += 1
        except asyncio.CancelledError:
            pass

    # -- updates -------------------------------------------------------------------------------
    async def _snapshot_payload(self, throttle: bool = False) -> bytes:
        async with self._build_lock:            # one build at a time (the push, /api/snapshot)
            now = time.monotonic()
            if throttle and self._last_payload and now - self._last_built < 1.0 / self.rate:
                return self._last_payload
            return await self._build(now)

    async def _build(self, now: float) -> bytes:
        snap = await self.builder.build_async()    # in parts: the loop runs in between
        t0, c1 = time.perf_counter_ns(), time.thread_time_ns()
        snap["dashboard"] = {"clients": len(self._clients), "subscribers": self.subscribers,
                             "dropped_slow": self.stats["dropped_slow"],
                             "updates_sent": self.stats["updates_sent"], "rate_hz": self.rate,
                             "build_us": snap.pop("build_us")}
        payload = orjson.dumps({"type": "snapshot", **snap})
        encode_ns = time.perf_counter_ns() - t0
        self.stats["build_ns"] += self.builder.build_ns + encode_ns     # the loop's time on it
        encode_cpu = time.thread_time_ns() - c1
        self.stats["build_cpu_ns"] += self.builder.build_cpu_ns + encode_cpu
        self.stats["max_part_cpu_ns"] = max(self.stats["max_part_cpu_ns"],
                                            self.builder.max_part_cpu_ns, encode_cpu)
        self.stats["max_part_ns"] = max(self.stats["max_part_ns"], self.builder.max_part_ns,
                                        encode_ns)
        self._last_payload = payload
        self._last_built = now
        self.stats["snapshots"] += 1
        return payload

    async def _push_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        try:
            while True:
                subs = [c for c in self._clients if c.subscribed]
                if not subs:
                    return                   # nobody watching: no reads, no task
                started = loop.time()
                payload = await self._snapshot_payload()
                for c in subs:
                    if c not in self._clients:
                        continue                 # left while the snapshot was built
                    if c.latest is not None:
                        self.stats["coalesced"] += 1
                    c.offer(payload)
                # the next build starts one interval after this one started, never sooner
                await asyncio.sleep(max(0.0, started + interval - loop.time()))
        except asyncio.CancelledError:
            pass
        finally:
            if self._pusher is asyncio.current_task():
                self._pusher = None

    # -- client messages -----------------------------------------------------------------------
    def _on_message(self, client: _Client, data: str) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            msg = None
        if not isinstance(msg, dict):
            client.reply({"type": "error", "error": "a JSON object is expected"})
            return
        kind = msg.get("type")
        if kind == "auth":
            self._auth(client, msg.get("token"))
        elif kind == "control":
            if not client.authed:
                self.stats["refused_controls"] += 1
                self.controls.refuse(msg.get("action"), client.who,
                                     "forbidden: controls need the token")
                client.reply({"type": "control_result", "id": _req_id(msg), "ok": False,
                              "error": "forbidden: controls need the token"})
                return
            client.reply(self._control(msg, client.who))
        elif kind == "ping":
            client.reply({"type": "pong", "id": _req_id(msg)})
        else:
            client.reply({"type": "error", "error": f"unknown message type {str(kind)[:40]!r}"})

    def _auth(self, client: _Client, token: object) -> None:
        if self._token_ok(token):
            client.authed = True
            client.reply({"type": "auth", "ok": True, "controls": True})
            self._subscribe(client)
            return
        client.auth_failures += 1
        self.stats["auth_failures"] += 1
        log.warning("dashboard: wrong token from %s", client.who)
        client.reply({"type": "auth", "ok": False, "error": "wrong token"})
        if client.auth_failures >= _MAX_AUTH_FAILURES:
            client.dropped = "auth"

    def _control(self, msg: dict[str, Any], who: str) -> dict[str, Any]:
        rid = _req_id(msg)
        action = msg.get("action")
        if msg.get("confirm") is not True:
            self.stats["refused_controls"] += 1
            self.controls.refuse(action, who, "not confirmed", msg.get("params"))
            return {"type": "control_result", "id": rid, "ok": False,
                    "error": "not confirmed: a control carries \"confirm\": true once the "
                             "operator confirmed it"}
        try:
            entry = self.controls.run(action, msg.get("params"), by=who)
        except ControlError as exc:
            self.stats["refused_controls"] += 1
            return {"type": "control_result", "id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:              # journaled as control_failed
            return {"type": "control_result", "id": rid, "ok": False,
                    "error": f"{type(exc).__name__}: {exc}"}
        self.stats["controls"] += 1
        if action == "kill":
            self._start_sweep()
        return {"type": "control_result", "id": rid, "ok": True, "result": entry["result"],
                "journal_seq": entry["seq"]}

    def _on_control(self, entry: dict[str, Any]) -> None:
        self.builder.controls.append(entry)

    def _start_sweep(self) -> None:
        if self._sweeper is not None and not self._sweeper.done():
            return
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())

    async def _sweep_loop(self) -> None:
        """After a kill: cancel what is still open (orders acknowledged after the kill,
        cancels a rate limit refused) until nothing is open or the kill is reset."""
        deadline = time.monotonic() + _KILL_SWEEP_S
        with contextlib.suppress(asyncio.CancelledError):
            while time.monotonic() < deadline and self.engine.risk.killed:
                if not self.engine.om.open_orders():
                    return
                self.controls.sweep()
                await asyncio.sleep(0.05)


def _req_id(msg: dict[str, Any]) -> Any:
    rid = msg.get("id")
    return rid if isinstance(rid, int | str) and not isinstance(rid, bool) and \
        len(str(rid)) <= 64 else None

