"""Named shared-memory rings: create/attach, layout checks, stale segments, the resource
tracker not unlinking a segment when an attaching process exits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from hftcore import ipc
from hftcore._ext.ring import RingLayoutError
from hftcore.decoders import BBO_DTYPE, TRADE_DTYPE


def name() -> str:
    return f"test.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    # the child imports hftcore as this process does (installed, or PYTHONPATH=src)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_create_attach_publish_read() -> None:
    n = name()
    with ipc.create_ring(n, 64, TRADE_DTYPE, consumers=2) as owner:
        assert owner.segment == "hftcore." + n and owner.owner
        with ipc.attach_ring(n) as other:
            assert other.ring.dtype == TRADE_DTYPE and not other.owner
            cons = other.consumer()
            prod = owner.producer()
            a = np.zeros(5, TRADE_DTYPE)
            a["price"] = np.arange(5) * 100
            prod.publish_batch(a)
            assert cons.read()["price"].tolist() == [0, 100, 200, 300, 400]
            assert other.stats()["name"] == n and other.stats()["head"] == 5
        assert owner.ring.stats()["consumers"] == []  # closing the attacher freed its place
    with pytest.raises(FileNotFoundError, match=n):
        ipc.attach_ring(n)


def test_attach_refuses_other_layout() -> None:
    n = name()
    with ipc.create_ring(n, 16, BBO_DTYPE):
        with pytest.raises(RingLayoutError, match="layout"):
            ipc.attach_ring(n, TRADE_DTYPE)
        with pytest.raises(RingLayoutError, match="64-byte"):
            ipc.attach_ring(n, record_size=48)
        with ipc.attach_ring(n, BBO_DTYPE) as ok:
            assert ok.ring.record_size == 64


@pytest.mark.parametrize(
    ("bad", "exc"), [(3, TypeError), ("", ValueError), ("a/b", ValueError), (".x", ValueError)]
)
def test_names_are_checked(bad: object, exc: type) -> None:
    with pytest.raises(exc, match="name"):
        ipc.create_ring(bad, 16, record_size=8)  # type: ignore[arg-type]
    with pytest.raises(exc, match="name"):
        ipc.attach_ring(bad)  # type: ignore[arg-type]


def test_bad_sizes_create_nothing() -> None:
    n = name()
    with pytest.raises(ValueError, match="capacity"):
        ipc.create_ring(n, 10, record_size=8)
    with pytest.raises(TypeError, match="dtype"):
        ipc.create_ring(n, 16)
    assert not ipc.unlink_ring(n)


def test_live_ring_is_not_replaced_unless_asked() -> None:
    n = name()
    with ipc.create_ring(n, 16, record_size=8) as first:
        with pytest.raises(FileExistsError, match="in use"):
            ipc.create_ring(n, 16, record_size=8)
        second = ipc.create_ring(n, 32, record_size=16, replace=True)
        try:
            with ipc.attach_ring(n) as att:
                assert att.ring.capacity == 32
            first.ring.producer().publish(b"12345678")  # the old mapping still works
        finally:
            second.close()


def test_attaching_process_exit_does_not_unlink() -> None:
    """CPython's resource tracker unlinks shared memory when a process that merely attached
    exits; the ring must survive that."""
    n = name()
    with ipc.create_ring(n, 16, record_size=8) as owner:
        owner.producer().publish(b"abcdefgh")
        res = run_python(f"""
            from hftcore import ipc
            r = ipc.attach_ring({n!r})
            c = r.consumer(start="oldest")
            print(bytes(c.read()[0]))
            """)
        assert res.returncode == 0, res.stderr
        assert "abcdefgh" in res.stdout
        assert "leaked" not in res.stderr and "Traceback" not in res.stderr
        with ipc.attach_ring(n) as again:  # still there
            assert again.ring.head == 1


def test_stale_segment_of_a_crashed_creator_is_replaced_and_cleaned() -> None:
    n = name()
    res = run_python(f"""
        import os
        from hftcore import ipc
        r = ipc.create_ring({n!r}, 16, record_size=8)
        r.producer().publish(b"x" * 8)
        os._exit(0)   # a crash: no close, nothing unlinked
        """)
    assert res.returncode == 0, res.stderr
    infos = {i.name: i for i in ipc.list_rings()}
    assert infos[n].stale and infos[n].stats is not None
    assert n in ipc.cleanup_stale(dry_run=True)
    assert n in {i.name for i in ipc.list_rings()}
    with ipc.create_ring(n, 16, record_size=8) as fresh:  # the stale one is replaced
        assert fresh.ring.head == 0
        assert n not in ipc.cleanup_stale()  # this one is alive
    # and cleanup_stale removes a dead one
    res = run_python(f"""
        import os
        from hftcore import ipc
        r = ipc.create_ring({n!r}, 16, record_size=8)
        os._exit(0)
        """)
    assert res.returncode == 0, res.stderr
    assert n in ipc.cleanup_stale()
    with pytest.raises(FileNotFoundError):
        ipc.attach_ring(n)


def test_close_is_idempotent_and_owner_unlinks() -> None:
    n = name()
    r = ipc.create_ring(n, 16, record_size=8)
    prod = r.producer()
    r.close()
    r.close()
    assert r.closed and prod.closed
    assert not ipc.unlink_ring(n)
    assert "closed" in repr(r)


def test_attach_waits_for_the_creator() -> None:
    n = name()
    with pytest.raises(FileNotFoundError):
        ipc.attach_ring(n, timeout=0.05)
    with pytest.raises(TypeError, match="timeout"):
        ipc.attach_ring(n, timeout="1")  # type: ignore[arg-type]


def test_process_start_time() -> None:
    me = ipc.process_start_time(os.getpid())
    assert me > 0 or not Path("/proc/self/stat").exists()
    assert ipc.process_start_time(2**22 + 12345) == 0
