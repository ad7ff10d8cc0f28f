"""Sweeps: one row per grid point, the same table in-process, in processes and on Dask."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hftcore.data.recordings import infer_instruments
from hftcore.sweep import grid_points, sweep

sys.path.insert(0, str(Path(__file__).parent))
from sweep_strategies import Joiner

DATA = Path(__file__).parent / "data" / "coinbase" / "exchange_ws_2021-04-17.txt"
GRID = {"offset": [0, 1], "divisor": [2, 5]}


def test_grid_points_order_and_validation() -> None:
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    with pytest.raises(ValueError, match="grid"):
        grid_points({})
    with pytest.raises(ValueError, match="grid\\['a'\\]"):
        grid_points({"a": []})
    with pytest.raises(TypeError, match="Strategy subclass"):
        sweep(object, GRID, DATA)


@pytest.mark.integration
def test_sweep_in_process_and_in_worker_processes_agree() -> None:
    insts = infer_instruments(DATA)
    a = sweep(Joiner, GRID, DATA, insts, workers=1, latency=20_000)
    b = sweep(Joiner, GRID, DATA, insts, workers=2, latency=20_000)
    assert list(a.columns[:2]) == ["offset", "divisor"] and len(a) == 4
    assert a[["offset", "divisor"]].values.tolist() == [[0, 2], [0, 5], [1, 2], [1, 5]]
    assert a["trades"].sum() > 0
    assert a.drop(columns="elapsed_s").equals(b.drop(columns="elapsed_s"))
    # the offset changes the result: rows are not all the same
    assert a["trades"].nunique() > 1 or a["pnl"].nunique() > 1


@pytest.mark.integration
def test_sweep_on_a_dask_local_cluster_gives_the_same_table() -> None:
    distributed = pytest.importorskip("distributed")
    insts = infer_instruments(DATA)
    local = sweep(Joiner, GRID, DATA, insts, workers=1, latency=20_000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.run(sys.path.insert, 0, str(Path(__file__).parent))
        remote = sweep(Joiner, GRID, DATA, insts, client=client, latency=20_000)
    assert local.drop(columns="elapsed_s").equals(remote.drop(columns="elapsed_s"))
