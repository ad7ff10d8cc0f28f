"""The C API an engine written in Cython calls (``from hftcore._ext.orders cimport OrderCore``):
built here from tests/cython/order_engine.pyx against this checkout; skipped without a C
compiler."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from trading_sim import BTC

import hftcore
from hftcore import InstrumentLimits, OrderError, OrderManager, OrderStatus, Reason, RiskEngine

S = OrderStatus


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    try:
        from Cython.Build import cythonize
        from setuptools import Distribution, Extension
    except ImportError:
        pytest.skip("Cython/setuptools not available")
    src = Path(__file__).parent / "cython" / "order_engine.pyx"
    root = Path(hftcore.__file__).resolve().parents[1]
    build = tmp_path_factory.mktemp("c_api")
    shutil.copy(src, build / src.name)
    ext = Extension("order_engine", [str(build / src.name)],
                    include_dirs=[str(root / "hftcore" / "_ext")])
    try:
        dist = Distribution({"ext_modules": cythonize(
            [ext], include_path=[str(root)], quiet=True,
            compiler_directives={"language_level": 3})})
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(build)
        cmd.build_temp = str(build / "tmp")
        cmd.ensure_finalized()
        cmd.run()
    except Exception as e:
        pytest.skip(f"cannot build the C API test module: {e}")
    sys.path.insert(0, str(build))
    try:
        import order_engine  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(build))
    return order_engine  # type: ignore[no-any-return]


def test_life_cycle_by_handle(engine: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "orders.journal"
    om = OrderManager(session="ca", journal=path)
    out = engine.life_cycle(om, BTC, 0, 5 * BTC.lot, BTC.price("50000"), 100)
    assert out["booked"] == [1, 0, 1]  # the repeated trade id is refused
    assert out["status"] == S.FILLED and out["filled"] == 5 * BTC.lot
    o = out["view"]
    assert o.client_order_id == out["cid"] and o.venue_order_id == "V" + out["cid"]
    assert [f.fee for f in o.fills] == [None, -5]
    assert om.counts["duplicate_fill"] == 1
    om.close()
    back = OrderManager.recover(path, rebase_time=False)  # the C path journals like the Python one
    assert back[out["cid"]].history == o.history
    assert back.portfolio.snapshot() == om.portfolio.snapshot()
    back.close()


def test_risk_reason_and_cancel(engine: ModuleType) -> None:
    risk = RiskEngine()
    risk.add_instrument(BTC, InstrumentLimits(max_size=BTC.lot))
    om = OrderManager(session="cb", risk=risk)
    out = engine.life_cycle(om, BTC, 1, 5 * BTC.lot, BTC.price("50000"), 0)
    assert out["reason"] == Reason.SIZE_MAX and out["status"] == S.REJECTED
    assert engine.cancel_flow(om, BTC, BTC.lot, BTC.price("50000")) == (
        0, S.PENDING_CANCEL, S.CANCELED)
    assert risk.instrument_state(BTC)["open_orders"] == 0


def test_c_api_errors_raise(engine: ModuleType) -> None:
    om = OrderManager(session="cc")
    with pytest.raises(ValueError, match="side"):
        engine.bad_side(om, BTC)
    with pytest.raises(OrderError, match="unknown order"):
        engine.unknown_handle(om)
    assert len(om) == 0
