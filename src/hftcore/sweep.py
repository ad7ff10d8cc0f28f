"""Parameter sweeps: one backtest per parameter set, one row of statistics per set.

Runs in local worker processes by default, or on a Dask cluster when given a
``distributed.Client`` (the ``dask`` extra).  Every backtest is deterministic, so the table is
the same whoever runs it.

>>> table = hftcore.sweep(MyStrategy, grid={"spread": [1, 2, 4], "size": [10, 20]},
...                       data=["btc.evt"], instruments=[btc])          # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from hftcore.model import Instrument

__all__ = ["grid_points", "run_one", "sweep"]

#: the statistics each row carries (besides the parameters)
COLUMNS = ("pnl", "realized_pnl", "fees", "turnover", "trades", "orders", "fill_ratio",
           "sharpe", "max_drawdown", "messages", "events", "failures", "elapsed_s")


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in the grid's order (last key varies fastest)."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid: a non-empty mapping of parameter name -> list of values")
    keys = list(grid)
    values = []
    for k in keys:
        v = grid[k]
        if isinstance(v, str | bytes) or not isinstance(v, Sequence) or len(v) == 0:
            raise ValueError(f"grid[{k!r}]: a non-empty list of values")
        values.append(list(v))
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def run_one(strategy_cls: type, params: dict[str, Any], data: Any,
            instruments: Sequence[Instrument] | None, options: dict[str, Any]) -> dict[str, Any]:
    """One backtest of ``strategy_cls(**params)``: its parameters and statistics as a row."""
    from hftcore.backtest import backtest

    strategy = strategy_cls(**params)
    r = backtest(strategy, data, instruments, progress=False, **options)
    row: dict[str, Any] = dict(params)
    for c in COLUMNS:
        row[c] = r.stats[c]
    row["error"] = r.failures[0].error if r.failures else ""
    return row


def _paths(data: Any) -> Any:
    if isinstance(data, str | Path):
        return str(Path(data).resolve())
    return [str(Path(p).resolve()) for p in data]


def sweep(strategy_cls: type, grid: Mapping[str, Sequence[Any]], data: Any,
          instruments: Sequence[Instrument] | None = None, *, client: Any = None,
          workers: int | None = None, **options: Any) -> Any:
    """Backtest ``strategy_cls`` once per point of ``grid`` over ``data``.

    Parameters
    ----------
    strategy_cls : type
        A ``hftcore.Strategy`` subclass importable by the workers (defined in a module, not in
        ``__main__`` of an interactive session, when running on Dask or in processes).
    grid : mapping
        Parameter name -> values; every combination is run.
    data, instruments, options
        As for :func:`hftcore.backtest` (latency, fees, seed, ...).
    client : distributed.Client, optional
        Run on this Dask cluster; by default local processes (``workers`` of them; 1 runs in
        this process).

    Returns
    -------
    pandas.DataFrame
        One row per parameter set, in grid order: the parameters, then pnl, fees, turnover,
        trades, orders, fill_ratio, sharpe, max_drawdown, messages, events, failures,
        elapsed_s, error.  Money columns are exact ``Decimal``.
    """
    import pandas as pd

    from hftcore._ext.strategy import Strategy

    if not (isinstance(strategy_cls, type) and issubclass(strategy_cls, Strategy)):
        raise TypeError("strategy_cls: a hftcore.Strategy subclass (the class, not an instance)")
    points = grid_points(grid)
    paths = _paths(data)
    insts = list(instruments) if instruments is not None else None
    if client is not None:
        futures = [client.submit(run_one, strategy_cls, p, paths, insts, options, pure=False)
                   for p in points]
        rows = client.gather(futures)
    else:
        n = workers if workers is not None else min(len(points), os.cpu_count() or 1)
        if n <= 1 or len(points) == 1:
            rows = [run_one(strategy_cls, p, paths, insts, options) for p in points]
        else:
            # imported here: multiprocessing costs ~35 ms of every `import hftcore` otherwise
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=n) as pool:
                rows = list(pool.map(run_one, [strategy_cls] * len(points), points,
                                     [paths] * len(points), [insts] * len(points),
                                     [options] * len(points)))
    df = pd.DataFrame(rows, columns=[*grid.keys(), *COLUMNS, "error"])
    for c in ("pnl", "realized_pnl", "fees", "turnover", "max_drawdown"):
        df[c] = [Decimal(x) if not isinstance(x, Decimal) else x for x in df[c]]
    return df
