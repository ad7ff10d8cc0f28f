"""Latency budgets in your own test suite: run a strategy over recorded data and check the
engine's per-stage latency histograms.

>>> from hftcore.testing import latency_profile
>>> profile = latency_profile(MyStrategy(), data=["day.evt"])          # doctest: +SKIP
>>> profile.check({"tick_to_trade": {"p99": 20_000}})                  # doctest: +SKIP

With pytest, the ``hftcore_latency`` fixture (this module is a pytest plugin) returns
:func:`latency_profile`; with pytest-benchmark, :func:`benchmark_strategy` times whole runs and
puts the per-stage report in ``benchmark.extra_info["latency"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hftcore._ext.hist import LatencyHistogram
from hftcore.metrics import format_latency_table, latency_report

__all__ = ["LatencyProfile", "benchmark_strategy", "hftcore_latency", "latency_profile"]


@dataclass
class LatencyProfile:
    """The engine's per-stage histograms (ns) of one run, and the run's statistics."""

    histograms: dict[str, LatencyHistogram]
    stats: dict[str, Any]

    def report(self, percentiles: Sequence[float] = (50, 99, 99.9),
               budgets: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, Any]:
        """Per stage: count, percentiles (``p50``...), max; with budgets, ``over``."""
        return latency_report(self.histograms, percentiles, budgets)

    def table(self, budgets: Mapping[str, Mapping[str, int]] | None = None) -> str:
        """The text table ``python -m hftcore bench`` prints."""
        return format_latency_table(self.histograms, (50, 99, 99.9), budgets)

    def check(self, budgets: Mapping[str, Mapping[str, int]]) -> None:
        """Raise ``AssertionError`` naming every stage and percentile over its budget (ns);
        a budget for a stage that was never measured is an error too."""
        missing = sorted(set(budgets) - {k for k, h in self.histograms.items() if h.count})
        if missing:
            raise AssertionError(f"no measurements for {missing}; measured: "
                                 f"{sorted(k for k, h in self.histograms.items() if h.count)}")
        rep = self.report(budgets=budgets)
        over = {k: {p: rep[k][p] for p in v["over"]} for k, v in rep.items() if v.get("over")}
        if over:
            raise AssertionError(f"latency over budget (ns): {over}\n{self.table(budgets)}")


def latency_profile(strategy: Any, data: str | Path | Sequence[str | Path] | None = None,
                    instruments: Sequence[Any] | None = None,
                    **backtest_options: Any) -> LatencyProfile:
    """Backtest ``strategy`` over ``data`` (the bundled sample by default) with the engine's
    measurements on, and return its per-stage histograms."""
    from hftcore.backtest import backtest
    from hftcore.data import sample

    if data is None:
        data = sample.paths()
        if instruments is None:
            instruments = sample.instruments()
    backtest_options.setdefault("progress", False)
    r = backtest(strategy, data, instruments, measure=True, **backtest_options)
    assert r.engine is not None
    hists = dict(r.engine.metrics.stage_latency.children)
    return LatencyProfile(hists, r.stats)


def benchmark_strategy(benchmark: Any, make_strategy: Callable[[], Any],
                       data: str | Path | Sequence[str | Path] | None = None,
                       instruments: Sequence[Any] | None = None, rounds: int = 3,
                       **backtest_options: Any) -> LatencyProfile:
    """Time ``rounds`` whole backtests of fresh ``make_strategy()`` instances with
    pytest-benchmark; returns the profile of the last, also put (as a report) in
    ``benchmark.extra_info["latency"]``."""
    last: list[LatencyProfile] = []

    def run() -> None:
        last.append(latency_profile(make_strategy(), data, instruments, **backtest_options))

    benchmark.pedantic(run, rounds=rounds, iterations=1)
    profile = last[-1]
    benchmark.extra_info["latency"] = profile.report()
    return profile


try:  # the pytest fixture, when pytest is there (this module is registered as a plugin)
    import pytest

    @pytest.fixture
    def hftcore_latency() -> Callable[..., LatencyProfile]:
        """:func:`latency_profile`, for checking a strategy's latency budget in a test."""
        return latency_profile

except ImportError:  # pragma: no cover - pytest is only needed for the fixture
    pass
