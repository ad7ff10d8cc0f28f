"""examples/research.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel)
and shows what this process computes from the same recording."""

from __future__ import annotations

import ast
import base64
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import hftcore
from hftcore.data import sample
from hftcore.data.events import EV_TRADE
from hftcore.venues.replay import Replay

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "research.ipynb"


def outputs(cell: Any, kind: str) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == kind]


def text(cell: Any) -> str:
    parts = [o.text for o in outputs(cell, "stream")]
    parts += [o.data.get("text/plain", "") for o in outputs(cell, "execute_result")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed() -> dict[str, Any]:
    pytest.importorskip("matplotlib")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, "commit the notebook without outputs"
    # the kernel imports the hftcore this test imports, wherever it lives
    env_path = os.environ.get("PYTHONPATH")
    pkg_parent = str(Path(hftcore.__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env_path) if p)
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        if env_path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = env_path
    cells: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not outputs(cell, "error")
        for tag in cell.metadata.get("tags", []):
            cells[tag] = cell
    return cells


def test_notebook_reads_the_recording_as_this_process_does(executed: dict[str, Any]) -> None:
    insts = sample.instruments()
    replay = Replay(sample.paths(), insts)
    events = np.concatenate(list(replay))
    messages = replay.stats().messages
    assert f"{messages:,} messages -> {len(events):,} events" in text(executed["events"])
    table = outputs(executed["events"], "execute_result")[0].data["text/html"]
    assert all(inst.symbol in table for inst in insts)

    k = next(i for i, inst in enumerate(insts) if inst.symbol == "SKL-USD")
    n_trades = int(((events["kind"] == EV_TRADE) & (events["instrument"] == k)).sum())
    summary = ast.literal_eval(text(executed["summary"]).strip())
    assert summary["messages"] == messages and summary["events"] == len(events)
    assert summary["skl_trades"] == n_trades > 0
    assert summary["bbo_changes"] > 0


def test_notebook_backtest_figures_agree(executed: dict[str, Any]) -> None:
    summary = ast.literal_eval(text(executed["summary"]).strip())
    assert summary["fills"] == summary["stats_trades"] > 0
    assert summary["bought_minus_sold"] == summary["last_inventory"]
    assert Decimal(summary["fees_from_fills"]) == Decimal(summary["stats_fees"]) > 0
    assert summary["latency_rows"] == 5
    backtest_text = text(executed["backtest"])
    assert f"fills                  {summary['fills']:,}" in backtest_text
    fills_html = outputs(executed["fills"], "execute_result")[0].data["text/html"]
    body = fills_html.split("<tbody>")[1]
    assert body.count("<tr>") == summary["fills"]             # one row per fill
    assert "MAKER" in fills_html or "TAKER" in fills_html
    study = outputs(executed["latency-study"], "execute_result")[0].data["text/html"]
    assert all(f"<th>{us}</th>" in study for us in (0, 100, 1000, 10000, 50000))


def test_notebook_draws_its_plots(executed: dict[str, Any]) -> None:
    for tag in ("market-plot", "result-plot"):
        images = [o.data["image/png"] for o in outputs(executed[tag], "display_data")
                  if "image/png" in o.data]
        assert len(images) == 1, tag
        assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
