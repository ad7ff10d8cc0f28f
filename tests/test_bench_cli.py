"""``python -m hftcore bench`` and the latency helpers for users' own test suites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hftcore.bench import parse_budgets
from hftcore.demo import MarketMaker
from hftcore.testing import benchmark_strategy, latency_profile

ENV = dict(os.environ)   # the hftcore this test imports (installed, or PYTHONPATH=src)


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hftcore", "bench", "--rounds", "50", *args],
                          capture_output=True, text=True, env=ENV, timeout=300)


def test_bench_within_and_over_budget(tmp_path: Path) -> None:
    loose = tmp_path / "loose.toml"
    loose.write_text('[budgets."engine.tick_to_trade"]\np50 = "10s"\n'
                     '[budgets.risk]\np99 = 5000000000\n')
    r = bench("--budget", str(loose), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["over_budget"] == {}
    for stage in ("decode", "book", "risk", "order_path", "ring", "histogram",
                  "engine.tick_to_trade", "engine.book"):
        assert out["stages"][stage]["count"] > 0, stage
    tight = tmp_path / "tight.json"
    tight.write_text(json.dumps({"budgets": {"decode": {"p50": 0}}}))
    r = bench("--budget", str(tight))
    assert r.returncode == 1
    assert "OVER p50" in r.stdout and "over budget: decode (p50)" in r.stdout


@pytest.mark.parametrize("text, message", [
    ('[budgets.decode]\np99 = "fast"\n', "not a duration"),
    ('[budgets.decode]\nmax = 5\n', "keys are percentiles"),
    ('[budgets.nosuchstage]\np99 = 5\n', "unknown stages"),
])
def test_bench_refuses_bad_budgets(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "b.toml"
    f.write_text(text)
    r = bench("--budget", str(f))
    assert r.returncode == 2 and message in r.stderr
    assert "Traceback" not in r.stderr


def test_parse_budgets_units(tmp_path: Path) -> None:
    f = tmp_path / "b.toml"
    f.write_text('[budgets.a]\np50 = "1.5us"\np99 = "2ms"\n"p99.9" = 700\n')
    assert parse_budgets(f) == {"a": {"p50": 1500, "p99": 2_000_000, "p99.9": 700}}


def test_latency_profile_checks_budgets() -> None:
    prof = latency_profile(MarketMaker())
    assert prof.histograms["tick_to_trade"].count > 0
    prof.check({"tick_to_trade": {"p50": 10**10}})
    with pytest.raises(AssertionError, match="over budget"):
        prof.check({"book": {"p50": 0}})
    with pytest.raises(AssertionError, match="no measurements"):
        prof.check({"receive": {"p50": 10}})


def test_fixture_and_benchmark_helper(hftcore_latency, benchmark) -> None:  # type: ignore[no-untyped-def]
    assert hftcore_latency is latency_profile
    prof = benchmark_strategy(benchmark, MarketMaker, rounds=1)
    assert benchmark.extra_info["latency"]["tick_to_trade"]["count"] > 0
    assert prof.stats["orders"] > 0
