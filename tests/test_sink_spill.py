"""The sink's spill directory: exact round trips, a torn tail, the bound, segment order."""

from __future__ import annotations

from pathlib import Path

import pytest

from hftcore.sink.schema import TABLES
from hftcore.sink.spill import SpillDir, SpillFull, decode_segment, encode
from hftcore.sink.writer import to_records


def test_round_trip_keeps_big_integers_exact(tmp_path: Path) -> None:
    big = 2**100 + 7                       # 128-bit money survives (JSON, not orjson/float)
    batch = [("strategy_pnl", [("r", "mm", 1, 1, big, -big, 0, 3, 4, 0, 0, 0)])]
    sp = SpillDir(tmp_path)
    n = sp.append(batch)
    assert sp.bytes == n
    (seg,) = sp.pending()
    assert sp.read(seg) == batch
    rec = to_records(TABLES["strategy_pnl"], batch[0][1])[0]
    assert str(rec[4]) == f"{big // 10**8}.{big % 10**8:08d}"


def test_a_torn_or_corrupt_tail_is_skipped_and_counted(tmp_path: Path) -> None:
    a = [("risk_events", [("r", 1, 5, 5, "kill_switch", "", None, "engaged", 0, 0)])]
    b = [("risk_events", [("r", 2, 6, 6, "kill_reset", "", None, "reset", 0, 0)])]
    data = encode(a) + encode(b)
    got, damaged = decode_segment(data[:-3])          # a crash in the middle of record b
    assert got == a and damaged == len(encode(b)) - 3
    flipped = bytearray(data)
    flipped[-2] ^= 0xFF                               # a flipped byte: CRC refuses record b
    got, damaged = decode_segment(bytes(flipped))
    assert got == a and damaged == len(encode(b))


def test_the_bound_refuses_and_writes_nothing(tmp_path: Path) -> None:
    row = ("r", "c", 1, 1, 1, "NEW", "new", 0, 0)
    sp = SpillDir(tmp_path, max_bytes=200)
    sp.append([("order_events", [row])])
    before = sp.bytes
    with pytest.raises(SpillFull):
        sp.append([("order_events", [row] * 20)])
    assert sp.bytes == before
    with pytest.raises(ValueError, match="max_bytes"):
        SpillDir(tmp_path, max_bytes=0)


def test_segments_roll_and_survive_a_new_process(tmp_path: Path) -> None:
    sp = SpillDir(tmp_path, segment_bytes=10)    # one record per segment
    for i in range(5):
        sp.append([("order_events", [("r", "c", i, 1, 1, "NEW", "new", 0, 0)])])
    sp.close()
    again = SpillDir(tmp_path)                 # what a restarted process finds
    segs = again.pending()
    assert len(segs) == 5 and segs == sorted(segs)
    seqs = [again.read(s)[0][1][0][2] for s in segs]
    assert seqs == [0, 1, 2, 3, 4]
    again.remove(segs[0])
    assert len(again.pending()) == 4
    again.append([("order_events", [("r", "c", 9, 1, 1, "NEW", "new", 0, 0)])])
    assert again.pending()[-1].name > segs[-1].name       # numbering goes on
