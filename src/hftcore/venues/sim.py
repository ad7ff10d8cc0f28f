"""Simulated exchange: latency models, fees, and the matching core used by backtest and paper
modes.  The matching itself is C (:mod:`hftcore._ext.sim`; its module docstring and
docs/backtest.md describe the model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hftcore._ext.sim import REJECT_NAMES, SimCore
from hftcore.portfolio import FeeSchedule

__all__ = [
    "Latency",
    "LatencyModel",
    "SimExchange",
    "choice",
    "constant",
    "lognormal",
    "normal",
    "parse_fees",
    "parse_latency",
    "recorded",
    "uniform",
]

#: samples drawn per distribution (cycled); enough that cycling shows no pattern in a backtest
TABLE_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """One latency: ``kind`` ``"const"`` (``value`` ns), ``"table"`` (``samples`` ns, cycled;
    drawn from a distribution with the run's seed) or ``"feed"`` (the instrument's recorded feed
    delay ``local_ts - exchange_ts`` plus ``value``)."""

    kind: str
    value: int = 0
    dist: tuple[Any, ...] | None = None

    def spec(self, rng: np.random.Generator) -> tuple[str, int, np.ndarray[Any, Any] | None]:
        """The ``(kind, value, table)`` triple :class:`SimCore` takes (tables drawn now)."""
        if self.kind != "table":
            return (self.kind, self.value, None)
        assert self.dist is not None
        name, *args = self.dist
        if name == "normal":
            mean, std, low = args
            x = rng.normal(mean, std, TABLE_SIZE)
            x = np.maximum(x, low)
        elif name == "lognormal":
            median, sigma = args
            x = median * np.exp(rng.normal(0.0, sigma, TABLE_SIZE))
        elif name == "uniform":
            low, high = args
            x = rng.uniform(low, high, TABLE_SIZE)
        elif name == "choice":
            (values,) = args
            x = rng.choice(np.asarray(values, dtype=np.int64), TABLE_SIZE)
        else:  # pragma: no cover - constructors below make only these
            raise ValueError(f"unknown distribution {name!r}")
        # latencies are nanosecond counts, not prices: rounding a drawn float to ns is exact
        # enough and the table is fixed by the seed
        return ("table", 0, np.rint(np.maximum(x, 0)).astype(np.int64))


def _ns(x: object, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{what}: latency must be an int of nanoseconds, got {x!r}")
    if x < 0:
        raise ValueError(f"{what}: latency must be >= 0 ns, got {x}")
    return x


def constant(ns: int) -> LatencyModel:
    """Always ``ns`` nanoseconds."""
    return LatencyModel("const", _ns(ns, "constant"))


def normal(mean_ns: int, std_ns: int, min_ns: int = 0) -> LatencyModel:
    """Normally distributed (clipped below at ``min_ns``), drawn with the run's seed."""
    return LatencyModel("table", 0, ("normal", _ns(mean_ns, "mean_ns"), _ns(std_ns, "std_ns"),
                                     _ns(min_ns, "min_ns")))


def lognormal(median_ns: int, sigma: float) -> LatencyModel:
    """Log-normal with the given median and shape ``sigma`` (the usual network tail)."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or sigma < 0:
        raise ValueError(f"sigma must be a number >= 0, got {sigma!r}")
    return LatencyModel("table", 0, ("lognormal", _ns(median_ns, "median_ns"), float(sigma)))


def uniform(low_ns: int, high_ns: int) -> LatencyModel:
    """Uniform in ``[low_ns, high_ns]``."""
    if _ns(high_ns, "high_ns") < _ns(low_ns, "low_ns"):
        raise ValueError("high_ns must be >= low_ns")
    return LatencyModel("table", 0, ("uniform", low_ns, high_ns))


def choice(samples_ns: Sequence[int]) -> LatencyModel:
    """Samples drawn (with the seed) from measured latencies, e.g. a recorded round-trip log."""
    vals = tuple(_ns(v, "samples_ns") for v in samples_ns)
    if not vals:
        raise ValueError("samples_ns must not be empty")
    return LatencyModel("table", 0, ("choice", vals))


def recorded(offset_ns: int = 0) -> LatencyModel:
    """The instrument's last recorded feed delay (``local_ts - exchange_ts``) plus an offset:
    the order path is assumed as slow as the market-data path was at that moment."""
    return LatencyModel("feed", _ns(offset_ns, "offset_ns"))


def _model(x: object, what: str) -> LatencyModel:
    if isinstance(x, LatencyModel):
        return x
    return constant(_ns(x, what))


@dataclass(frozen=True, slots=True)
class Latency:
    """Order-entry latency (strategy -> matching engine), response latency (matching engine ->
    strategy) and cancel latency (defaults to ``entry``).  Each an int of ns or a model from
    :func:`constant`, :func:`normal`, :func:`lognormal`, :func:`uniform`, :func:`choice`,
    :func:`recorded`."""

    entry: LatencyModel | int = 0
    response: LatencyModel | int = 0
    cancel: LatencyModel | int | None = None

    def models(self) -> tuple[LatencyModel, LatencyModel, LatencyModel]:
        """(entry, response, cancel) as models."""
        e = _model(self.entry, "entry")
        r = _model(self.response, "response")
        c = e if self.cancel is None else _model(self.cancel, "cancel")
        return e, r, c


def parse_latency(latency: object) -> Latency:
    """``None`` (zero), an int (ns each way), ``(entry, response[, cancel])``, a mapping with
    those keys, a model, or a :class:`Latency`."""
    if latency is None:
        return Latency()
    if isinstance(latency, Latency):
        return latency
    if isinstance(latency, LatencyModel) or (isinstance(latency, int)
                                             and not isinstance(latency, bool)):
        return Latency(latency, latency)
    if isinstance(latency, Mapping):
        unknown = set(latency) - {"entry", "response", "cancel"}
        if unknown:
            raise ValueError(f"latency: unknown keys {sorted(unknown)} (entry, response, cancel)")
        return Latency(**latency)
    if isinstance(latency, tuple | list) and 2 <= len(latency) <= 3:
        return Latency(*latency)
    raise TypeError(f"latency: expected ns, (entry, response[, cancel]), a dict or Latency, "
                    f"got {latency!r}")


def parse_fees(fees: object) -> FeeSchedule:
    """``None`` (no fees), a :class:`FeeSchedule`, ``(maker, taker)`` as decimal text
    (``("0.0001", "0.0004")``: fractions of the notional; negative maker = rebate), or a
    mapping with ``maker`` / ``taker``."""
    if fees is None:
        return FeeSchedule()
    if isinstance(fees, FeeSchedule):
        return fees
    if isinstance(fees, Mapping):
        unknown = set(fees) - {"maker", "taker"}
        if unknown:
            raise ValueError(f"fees: unknown keys {sorted(unknown)} (maker, taker)")
        fees = (fees.get("maker", "0"), fees.get("taker", "0"))
    if isinstance(fees, tuple | list) and len(fees) == 2:
        maker, taker = fees
        if not all(isinstance(x, str) for x in (maker, taker)):
            raise TypeError("fees: give rates as decimal text, e.g. ('0.0001', '0.0004')")
        return FeeSchedule.from_text(maker, taker)
    raise TypeError(f"fees: expected FeeSchedule, (maker, taker) text or a dict, got {fees!r}")


class SimExchange:
    """The simulated venue of backtest and paper modes.

    Parameters
    ----------
    latency : see :func:`parse_latency`
    seed : int
        Seeds the latency distributions: the same inputs and seed give the same fills.
    """

    name = "sim"

    def __init__(self, latency: object = None, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}")
        self.latency = parse_latency(latency)
        self.seed = seed
        self.core: SimCore | None = None

    def make_core(self, n_instruments: int) -> SimCore:
        """The matching core for a run over ``n_instruments`` instruments."""
        rng = np.random.default_rng(self.seed)
        e, r, c = self.latency.models()
        self.core = SimCore(n_instruments, e.spec(rng), r.spec(rng), c.spec(rng))
        return self.core

    @staticmethod
    def reject_text(code: int) -> str:
        """The sentence for a simulator reject code."""
        return str(REJECT_NAMES.get(code, f"reject {code}"))
