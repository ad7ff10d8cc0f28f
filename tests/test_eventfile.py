"""Event files: round trip, bad files named by offset, time slicing, chunked reading, and the
same fills from an event file as from the recordings it was made of."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from hftcore.backtest import backtest
from hftcore.data.convert import convert
from hftcore.data.eventfile import (
    EVENT_DTYPE,
    EventFileError,
    EventWriter,
    is_event_file,
    iter_chunks,
    load,
)
from hftcore.data.recordings import infer_instruments
from hftcore.data.synthetic import l2_stream
from hftcore.model import Instrument
from hftcore.strategy import Strategy

DATA = Path(__file__).parent / "data"
COINBASE = DATA / "coinbase/exchange_ws_2021-04-17.txt"
X = Instrument("sim", "X", 0, 0)


def write(path: Path, ev: np.ndarray, insts: list[Instrument] | None = None) -> None:
    with EventWriter(path, insts or [X]) as w:
        w.append(ev[: len(ev) // 2])
        w.append(ev[len(ev) // 2:])


def test_round_trip_and_slicing(tmp_path: Path) -> None:
    ev = l2_stream(5_000, seed=3)
    p = tmp_path / "s.evt"
    write(p, ev)
    assert is_event_file(p) and not is_event_file(COINBASE)
    a = load(p)
    assert a.instruments == [X]
    assert np.array_equal(np.asarray(a), ev)
    t0, t1 = int(ev["local_ts"][100]), int(ev["local_ts"][2000])
    sl = a.between(t0, t1)
    assert np.array_equal(np.asarray(sl), ev[(ev["local_ts"] >= t0) & (ev["local_ts"] < t1)])
    chunks = [c.copy() for c in iter_chunks(p, chunk=777)]
    assert sum(len(c) for c in chunks) == len(ev)
    assert np.array_equal(np.concatenate(chunks), ev)
    part = np.concatenate([c.copy() for c in iter_chunks(p, 100, start_ns=t0, end_ns=t1)])
    assert np.array_equal(part, np.asarray(sl))
    df = a.to_pandas(decimals=True)
    assert len(df) == len(ev) and set(df["kind"]) <= {"delta", "trade", "status"}
    assert df["price_text"].iloc[0] == str(int(ev["price"][0]))


def test_bad_files_are_named_with_their_offset(tmp_path: Path) -> None:
    ev = l2_stream(1_000, seed=4)
    p = tmp_path / "s.evt"
    write(p, ev)
    data = p.read_bytes()
    cut = tmp_path / "cut.evt"
    cut.write_bytes(data[:-10])
    with pytest.raises(EventFileError, match="truncated"):
        load(cut)
    vers = tmp_path / "v.evt"
    vers.write_bytes(data[:8] + struct.pack("<I", 99) + data[12:])
    with pytest.raises(EventFileError, match="at byte 8: format version 99"):
        load(vers)
    magic = tmp_path / "m.evt"
    magic.write_bytes(b"X" + data[1:])
    with pytest.raises(EventFileError, match="bad magic"):
        load(magic)
    # records out of order in a file (made by hand: the writer refuses them)
    arr = np.frombuffer(data, dtype=np.uint8).copy()
    hlen = struct.unpack_from("<I", data, 12)[0]
    recs = arr[hlen:].view(EVENT_DTYPE)
    recs["local_ts"][500] = recs["local_ts"][0] - 1
    bad = tmp_path / "o.evt"
    bad.write_bytes(arr.tobytes())
    with pytest.raises(EventFileError, match=f"at byte {hlen + 500 * 48}: record 500 is out"):
        list(iter_chunks(bad, chunk=64))


def test_writer_refuses_out_of_order_and_unknown_instruments(tmp_path: Path) -> None:
    ev = l2_stream(100, seed=5)
    with pytest.raises(ValueError, match="earlier"), EventWriter(tmp_path / "a.evt", [X]) as w:
        w.append(ev[50:])
        w.append(ev[:50])
    assert not (tmp_path / "a.evt").exists() and not (tmp_path / "a.evt.partial").exists()
    bad = ev.copy()
    bad["instrument"] = 3
    with pytest.raises(ValueError, match="instrument 3"), EventWriter(tmp_path / "b.evt", [X]) as w:
        w.append(bad)


class MM(Strategy):
    def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
        bb, ba = book.best_bid, book.best_ask
        if bb is not None and ba is not None and ba > bb:
            self.quote(instrument, bb, ba, max(1, min(book.best_bid_size,
                                                      book.best_ask_size) // 3))


def test_event_file_backtest_gives_the_recordings_fills(tmp_path: Path) -> None:
    insts = infer_instruments(COINBASE)
    out = tmp_path / "cb.evt"
    info = convert(COINBASE, out, insts)
    assert info["events"] > 10_000 and info["decode_errors"] == 0
    r1 = backtest(MM(), COINBASE, insts, latency=50_000, seed=1)
    r2 = backtest(MM(), out, insts, latency=50_000, seed=1)
    r3 = backtest(MM(), out, latency=50_000, seed=1)          # instruments from the header
    assert r1.stats["trades"] > 0
    assert r1.fills_bytes() == r2.fills_bytes() == r3.fills_bytes()
    assert r1.orders.equals(r2.orders)


def test_event_files_and_recordings_merge(tmp_path: Path) -> None:
    # the synthetic stream's instrument next to a recording's, merged on receive time
    ev = l2_stream(2_000, seed=6, start_ts=1_618_677_817_000_000_000, step_ns=5_000_000)
    p = tmp_path / "syn.evt"
    write(p, ev)
    insts = [X, *infer_instruments(COINBASE)]
    seen: list[int] = []

    class Watch(Strategy):
        def on_bbo(self, instrument, book):  # type: ignore[no-untyped-def]
            seen.append(self.now)

    r = backtest(Watch(), [p, COINBASE], insts)
    assert r.stats["invalid_books"] == []
    assert seen == sorted(seen) and len(seen) > 1_000
    assert r.stats["instruments"]["sim:X"]["deltas"] == int((ev["kind"] == 1).sum())


def test_parquet_export_is_readable_without_hftcore(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    ev = l2_stream(500, seed=7)
    p = tmp_path / "s.evt"
    write(p, ev)
    out = tmp_path / "s.parquet"
    load(p).to_parquet(out)
    t = pq.read_table(out)
    assert t.num_rows == len(ev)
    assert t.column("price").to_pylist() == ev["price"].tolist()
    assert b"hftcore.instruments" in t.schema.metadata


@pytest.mark.parametrize("compress", ["gz", "zst"])
def test_compressed_recordings_backtest_like_plain_ones(tmp_path: Path, compress: str) -> None:
    raw = COINBASE.read_bytes()
    p = tmp_path / f"cb.txt.{compress}"
    if compress == "gz":
        import gzip

        p.write_bytes(gzip.compress(raw))
    else:
        zstd = pytest.importorskip("zstandard")
        p.write_bytes(zstd.ZstdCompressor().compress(raw))
    insts = infer_instruments(COINBASE)
    a = backtest(MM(), COINBASE, insts, seed=2)
    b = backtest(MM(), p, insts, seed=2)
    assert a.stats["trades"] > 0 and a.fills_bytes() == b.fills_bytes()
