"""Parquet archives: recordings, event files, fills and equity curves, partitioned by venue /
instrument / day, read back exactly by pandas and pyarrow in a process without hftcore."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hftcore import Instrument, backtest
from hftcore.data import sample
from hftcore.data.archive import (
    archive_event_file,
    archive_events,
    archive_recordings,
    archive_result,
    read_instrument,
)
from hftcore.data.convert import convert
from hftcore.data.events import delta, make_events, trade
from hftcore.data.sources import DataSources
from hftcore.demo import MarketMaker

pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

# Runs with hftcore blocked: the archive must stand on its own.
READER = r"""
import json, sys
sys.modules["hftcore"] = None          # any import of hftcore now fails
import pandas as pd, pyarrow.dataset as ds
root, dataset = sys.argv[1], sys.argv[2]
t = ds.dataset(f"{root}/{dataset}", format="parquet", partitioning="hive").to_table()
df = t.to_pandas()
out = {"columns": list(df.columns), "rows": len(df),
       "types": {c: str(t.schema.field(c).type) for c in t.schema.names}}
if dataset in ("events", "fills"):
    keys = ["venue", "symbol", "day"]
    g = df.groupby(keys, observed=True)
    out["by"] = {"/".join(str(x) for x in k): int(v) for k, v in g.size().items()}
    out["price_sum"] = {"/".join(str(x) for x in k): int(v) for k, v in g["price"].sum().items()}
if dataset == "fills":
    df = df.sort_values(["ts", "client_order_id"])
    # exact decimals from raw ints without hftcore
    from decimal import Decimal
    out["fills"] = [[int(r.ts), r.client_order_id, r.side_name, str(Decimal(int(r.qty)).scaleb(
        -int(r.size_decimals))), str(Decimal(int(r.price)).scaleb(-int(r.price_decimals))),
        int(r.fee)] for r in df.itertuples()]
if dataset == "equity":
    df = df.sort_values("ts")
    out["pnl"] = [int(x) for x in df["pnl"]]
if dataset == "events":
    pdf = pd.read_parquet(f"{root}/{dataset}")        # pandas alone reads it too
    out["pandas_rows"] = len(pdf)
print(json.dumps(out))
"""


def read_elsewhere(root: Path, dataset: str) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-c", READER, str(root), dataset], capture_output=True,
                       text=True, timeout=120, cwd=root)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout))


def expected_by(events: Any, insts: list[Instrument]) -> tuple[dict[str, int], dict[str, int]]:
    arr = np.asarray(events)
    days = (arr["local_ts"] // 86_400_000_000_000).astype("datetime64[D]").astype(str)
    n: dict[str, int] = {}
    s: dict[str, int] = {}
    for i, d, p in zip(arr["instrument"].tolist(), days.tolist(), arr["price"].tolist(),
                       strict=True):
        k = f"{insts[i].venue}/{insts[i].symbol}/{d}"
        n[k] = n.get(k, 0) + 1
        s[k] = s.get(k, 0) + p
    return n, s


def test_recordings_archive_by_venue_instrument_day(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    files = archive_recordings(sample.paths(), root, sample.instruments())
    assert files and all(f.suffix == ".parquet" for f in files)
    src = DataSources(sample.paths(), sample.instruments())
    events = np.concatenate([a.copy() for a in src])
    want_n, want_sum = expected_by(events, src.instruments)
    got = read_elsewhere(root, "events")
    assert got["rows"] == got["pandas_rows"] == len(events)
    assert got["by"] == want_n and got["price_sum"] == want_sum
    assert {"venue", "symbol", "day", "price_decimals", "size_decimals"} <= set(got["columns"])
    assert got["types"]["local_ts"] == "int64" and got["types"]["price"] == "int64"
    assert got["types"]["kind"] == "uint8" and got["types"]["instrument"] == "uint32"
    one = files[0]
    assert one.parent.name.startswith("day=") and one.parent.parent.name.startswith("symbol=")
    meta = read_instrument(one)
    assert meta["venue"] == "coinbase" and f"symbol={meta['symbol']}" == one.parent.parent.name
    # archiving again writes the same files: nothing twice
    again = archive_recordings(sample.paths(), root, sample.instruments())
    assert sorted(again) == sorted(files)
    assert read_elsewhere(root, "events")["rows"] == len(events)


def test_an_event_file_archives_the_same(tmp_path: Path) -> None:
    ef = tmp_path / "sample.evt"
    convert(sample.paths(), ef, sample.instruments())
    archive_event_file(ef, tmp_path / "a", chunk=1000)          # many chunks, many parts
    archive_recordings(sample.paths(), tmp_path / "b", sample.instruments())
    ra, rb = read_elsewhere(tmp_path / "a", "events"), read_elsewhere(tmp_path / "b", "events")
    assert ra["by"] == rb["by"] and ra["price_sum"] == rb["price_sum"]


def test_days_split_and_symbols_are_escaped(tmp_path: Path) -> None:
    inst = [Instrument("kraken", "XBT/USD", 1, 8)]
    day = 86_400_000_000_000
    ev = make_events([delta(day - 10, 0, 0, 100, 5, snapshot=True), trade(day - 5, 0, 1, 101, 2),
                      trade(day + 5, 0, 0, 102, 3), trade(2 * day + 1, 0, 0, 103, 4)])
    files = archive_events(ev, tmp_path, inst)
    assert sorted(f.parent.name for f in files) == ["day=1970-01-01", "day=1970-01-02",
                                                    "day=1970-01-03"]
    assert {f.parent.parent.name for f in files} == {"symbol=XBT%2FUSD"}
    got = read_elsewhere(tmp_path, "events")
    assert got["by"] == {"kraken/XBT/USD/1970-01-01": 3, "kraken/XBT/USD/1970-01-02": 1,
                         "kraken/XBT/USD/1970-01-03": 1}
    with pytest.raises(TypeError, match="EVENT_DTYPE"):
        archive_events(np.zeros(3), tmp_path, inst)
    with pytest.raises(ValueError, match="instruments are needed"):
        archive_events(ev, tmp_path, [])
    two = make_events([trade(1, 1, 0, 100, 1)])
    with pytest.raises(ValueError, match="instrument 1 is not among"):
        archive_events(two, tmp_path, inst)


def test_fills_and_equity_of_a_backtest(tmp_path: Path) -> None:
    r = backtest(MarketMaker(), sample.paths(), sample.instruments(),
                 fees=("0.0001", "0.0004"), progress=False)
    assert len(r.fills) > 0
    archive_result(r, tmp_path, run="run-1")
    got = read_elsewhere(tmp_path, "fills")
    assert got["rows"] == len(r.fills)
    insts = {(i.venue, i.symbol): i for i in r.engine.instruments}
    want = []
    for row in r.fills.sort_values(["ts", "client_order_id"]).itertuples():
        inst = insts[(row.venue, row.symbol)]
        want.append([int(row.ts), row.client_order_id, row.side, inst.format_qty(int(row.qty)),
                     inst.format_price(int(row.price)), int(row.fee)])
    assert got["fills"] == want
    eq = read_elsewhere(tmp_path, "equity")
    assert eq["pnl"] == [int(x) for x in r.engine.equity["pnl"]]
    inv = read_elsewhere(tmp_path, "inventory")
    assert inv["rows"] > 0 and "net" in inv["columns"]


def test_without_pyarrow_the_error_says_what_to_install(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    ev = make_events([trade(1, 0, 0, 100, 1)])
    with pytest.raises(ImportError, match=r"hftcore\[parquet\]"):
        archive_events(ev, tmp_path, [Instrument("x", "Y", 0, 0)])
