"""``python -m hftcore bench``: the latency suite on this machine, held to budgets you write.

Stages measured (each a histogram of per-operation wall-clock times, ns):

* ``decode`` — one message of the bundled sample decoded (``Decoder.decode``);
* ``book`` — one level applied to an ``L2Book`` and the best bid / ask read;
* ``risk`` — one pre-trade check (``RiskEngine.check``);
* ``order_path`` — create → submit (with the risk engine) → ack → fill → position;
* ``ring`` — one record published and read back (``hftcore.ipc`` ring, one process);
* ``histogram`` — one ``LatencyHistogram.record`` call from Python;
* the engine's stages (``engine.decode`` ... ``engine.tick_to_trade``) while a strategy (the demo
  market maker, or ``--strategy module:Class``) runs over the sample (or ``--data FILE...``).

Operations faster than the clock are timed in batches of ``BATCH`` and recorded as the batch's
mean per operation, so the percentiles are of batch means (documented in the table).

A budget file (TOML or JSON) names stages and limits::

    [budgets."engine.tick_to_trade"]
    p50 = "5us"
    p99 = "20us"
    [budgets.decode]
    p99 = 2000          # ns

Exit codes: 0 within budget, 1 a budget exceeded, 2 bad arguments or files.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hftcore._ext.hist import LatencyHistogram
from hftcore.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, command
from hftcore.metrics import format_latency_table, latency_report

__all__ = ["BATCH", "parse_budgets", "run_suite"]

BATCH = 64
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def _ns(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{where}: a duration, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{where}: must be >= 0")
        return value
    if isinstance(value, str):
        text = value.strip()
        for unit in sorted(_UNITS, key=len, reverse=True):
            if text.endswith(unit):
                num = text[: -len(unit)].strip()
                try:
                    from decimal import Decimal, InvalidOperation

                    d = Decimal(num) * _UNITS[unit]
                except InvalidOperation:
                    break
                if d < 0 or d != d.to_integral_value():
                    raise ValueError(f"{where}: {value!r} is not a whole number of ns")
                return int(d)
        raise ValueError(f"{where}: {value!r} is not a duration (e.g. 1500, \"5us\", \"2ms\")")
    raise ValueError(f"{where}: a duration (int ns or text like \"5us\"), got {value!r}")


def parse_budgets(path: str | Path) -> dict[str, dict[str, int]]:
    """Read a budget file (TOML or JSON): ``{stage: {"p50": ns, "p99": ns, ...}}``."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such budget file")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: {exc}") from None
    table = data.get("budgets", data) if isinstance(data, dict) else None
    if not isinstance(table, dict):
        raise ValueError(f"{p}: expected a table of stages")
    out: dict[str, dict[str, int]] = {}
    for stage, limits in table.items():
        if not isinstance(limits, Mapping):
            raise ValueError(f"{p}: [{stage}] must be a table of percentiles")
        row = {}
        for k, v in limits.items():
            if not (isinstance(k, str) and k.startswith("p")):
                raise ValueError(f"{p}: {stage}.{k}: keys are percentiles like p50, p99, p99.9")
            try:
                float(k[1:])
            except ValueError:
                raise ValueError(f"{p}: {stage}.{k}: not a percentile") from None
            row[k] = _ns(v, f"{p}: {stage}.{k}")
        out[str(stage)] = row
    return out


def _batched(hist: LatencyHistogram, op: Callable[[], object], rounds: int) -> None:
    clock = time.perf_counter_ns
    for _ in range(rounds):
        t0 = clock()
        for _ in range(BATCH):
            op()
        hist.record((clock() - t0) // BATCH)


def _sample_messages() -> tuple[list[Any], list[bytes]]:
    from hftcore.data import sample
    from hftcore.data.recordings import read_messages

    msgs = [data for kind, _ts, data, _url in read_messages(sample.paths()[0]) if kind == "recv"]
    return sample.instruments(), msgs


def run_suite(rounds: int = 2_000, strategy: str | None = None, params: list[str] | None = None,
              data: list[str] | None = None) -> dict[str, LatencyHistogram]:
    """Measure every stage; returns ``{stage: LatencyHistogram}``."""
    import numpy as np

    from hftcore import Instrument, L2Book, RiskEngine, Side
    from hftcore.backtest import backtest
    from hftcore.decoders import decoder_for
    from hftcore.demo import MarketMaker, load_strategy
    from hftcore.ipc import Ring
    from hftcore.orders import OrderManager
    from hftcore.risk import InstrumentLimits

    out: dict[str, LatencyHistogram] = {}
    insts, msgs = _sample_messages()
    dec = decoder_for("coinbase", [Instrument(i.venue, i.symbol, i.price_decimals,
                                              i.size_decimals, instrument_id=k)
                                   for k, i in enumerate(insts)])
    h = out["decode"] = LatencyHistogram()
    clock = time.perf_counter_ns
    for m in msgs[:rounds]:
        t0 = clock()
        try:
            dec.decode(m)
        except ValueError:
            continue
        h.record(clock() - t0)

    book = L2Book(2, 4)
    rng = np.random.default_rng(1)
    prices = (10_000 + rng.integers(-50, 50, 1 << 14)).tolist()
    sizes = rng.integers(0, 1_000, 1 << 14).tolist()
    k = [0]

    def book_op() -> None:
        j = k[0] = (k[0] + 1) & ((1 << 14) - 1)
        p = prices[j]
        book.apply(0 if p < 10_000 else 1, p, sizes[j])
        book.best_bid  # noqa: B018 - the read is part of the measured work
        book.best_ask  # noqa: B018

    _batched(out.setdefault("book", LatencyHistogram()), book_op, rounds)

    btc = Instrument("bench", "BTCUSDT", 2, 5)
    risk = RiskEngine()
    idx = risk.add_instrument(btc, InstrumentLimits(max_size=btc.qty("10")))
    px, q = btc.price("50000"), btc.qty("0.1")
    check = risk.check
    _batched(out.setdefault("risk", LatencyHistogram()),
             lambda: check(idx, Side.BUY, px, q), rounds)

    om_risk = RiskEngine()
    om_risk.add_instrument(btc)
    om = OrderManager(session="bench", risk=om_risk, clock=time.monotonic_ns)
    n = [0]

    def order_op() -> None:
        o = om.create(btc, Side.BUY if n[0] % 2 == 0 else Side.SELL, q, px)
        om.submit(o)
        om.on_ack(o.client_order_id, "v")
        n[0] += 1
        om.on_fill(o.client_order_id, f"t{n[0]}", q, px)

    _batched(out.setdefault("order_path", LatencyHistogram()), order_op,
             max(1, rounds // 4))

    ring = Ring(1024, np.dtype([("a", "<i8"), ("b", "<i8")]))
    prod, cons = ring.producer(), ring.consumer()
    rec = np.zeros(1, dtype=ring.dtype)

    def ring_op() -> None:
        prod.publish(rec)
        cons.read(1)

    _batched(out.setdefault("ring", LatencyHistogram()), ring_op, rounds)
    ring.release()

    scratch = LatencyHistogram()
    _batched(out.setdefault("histogram", LatencyHistogram()), lambda: scratch.record(1234),
             rounds)

    strat = load_strategy(strategy, params or []) if strategy else MarketMaker()
    from hftcore.data import sample

    files = data or [str(p) for p in sample.paths()]
    r = backtest(strat, files, None if data else insts, latency=50_000, progress=False)
    assert r.engine is not None
    for name, hist in r.engine.metrics.stage_latency.children.items():
        if hist.count:
            out[f"engine.{name}"] = hist
    return out


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", metavar="FILE", help="budgets (TOML or JSON); exit 1 if exceeded")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--rounds", type=int, default=2_000,
                   help="measurements per stage (batches of 64 for the fast ones)")
    p.add_argument("--strategy", metavar="MODULE:CLASS",
                   help="the strategy whose engine stages are measured (default: the demo)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a constructor argument of the strategy (repeatable)")
    p.add_argument("--data", nargs="+", metavar="FILE",
                   help="recordings or event files to run the strategy over (default: sample)")


@command("bench", "measure per-stage latency on this machine against your budgets", _args)
def _bench(args: argparse.Namespace) -> int:
    try:
        if args.rounds < 10:
            raise ValueError("--rounds must be >= 10")
        budgets = parse_budgets(args.budget) if args.budget else None
        hists = run_suite(args.rounds, args.strategy, args.param, args.data)
    except (ValueError, OSError, ImportError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if budgets is not None:
        unknown = sorted(set(budgets) - set(hists))
        if unknown:
            raise CliError(f"budget for unknown stages {unknown}; stages: {sorted(hists)}",
                           EXIT_USAGE)
    report = latency_report(hists, (50, 99, 99.9), budgets)
    over = {k: v["over"] for k, v in report.items() if v.get("over")}
    if args.json:
        print(json.dumps({"stages": report, "over_budget": over}, indent=2, default=str))
    else:
        print(f"per-operation latency (fast stages: mean of batches of {BATCH})")
        print(format_latency_table(hists, (50, 99, 99.9), budgets))
        if over:
            items = [f"{k} ({'/'.join(v)})" for k, v in over.items()]
            print("\nover budget: " + ", ".join(items))
    return EXIT_FAILED if over else EXIT_OK
