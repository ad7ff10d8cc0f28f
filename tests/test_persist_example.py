"""examples/persist_and_reload.py runs as a user would run it, against the fixtures' PostgreSQL
server; what it reports is checked against the database, the journal and the Parquet files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pgtest
import pytest
from pgtest import query

from hftcore.sink import LocalPostgres

pg = pgtest.pg
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "persist_and_reload.py"


def test_the_persistence_example(pg: LocalPostgres, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--dsn", pg.dsn, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    # the refused edit changed nothing; the valid one changed both values, after the batch
    assert re.search(r"reload rejected: .*hftcore\.toml:\d+: "
                     r"strategies\.mm\.params\.max_inventory: 2\.5 is a float", text), text
    assert "still max_open_orders=40, max_inventory=5" in text
    assert ("reload applied: risk.global.max_open_orders 40 -> 6, "
            "strategies.mm.params.max_inventory 5 -> 2") in text
    assert "after the run: max_open_orders=6, max_inventory=2" in text
    # the database holds what the engine did (the run is the only one in this schema)
    m = re.search(r"database: (\d+) orders, (\d+) fills \(engine: (\d+) orders, (\d+) fills\)",
                  text)
    assert m and m.group(1) == m.group(3) and m.group(2) == m.group(4), text
    assert int(m.group(2)) > 0
    [(run,)] = query(pg.dsn, "SELECT run FROM example.runs")
    assert query(pg.dsn, "SELECT count(*) FROM example.fills WHERE run = $1", run)[0][0] \
        == int(m.group(2))
    assert "0 spilled, 0 dropped" in text
    pnl = Decimal(re.search(r"engine PnL: (\S+)", text).group(1))      # type: ignore[union-attr]
    [(day_pnl,)] = query(pg.dsn, "SELECT pnl FROM example.daily_pnl WHERE run = $1", run)
    assert day_pnl == pnl
    # the journal: the refusal with its errors, then the change with its diff
    recs = [json.loads(x) for x in (out / "config-journal.jsonl").read_text().splitlines()]
    assert [r["result"] for r in recs] == ["rejected", "applied"]
    assert recs[0]["errors"] and not recs[0]["changes"]
    assert {c["key"]: (c["old"], c["new"]) for c in recs[1]["changes"]} == {
        "risk.global.max_open_orders": (40, 6), "strategies.mm.params.max_inventory": (5, 2)}
    assert pg.dsn not in (out / "config-journal.jsonl").read_text()
    assert "HFTCORE_PG_DSN" in (out / "hftcore.toml").read_text()
    # the Parquet fills are the database's fills
    fills = pd.read_parquet(out / "archive" / "fills")
    assert len(fills) == int(m.group(2))
    db = query(pg.dsn, "SELECT client_order_id, qty FROM example.fills WHERE run = $1", run)
    got = sorted((str(r.client_order_id), Decimal(int(r.qty)).scaleb(-int(r.size_decimals)))
                 for r in fills.itertuples())
    assert got == sorted((r[0], r[1]) for r in db)
