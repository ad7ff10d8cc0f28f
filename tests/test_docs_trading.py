"""Every Python snippet of docs/trading.md runs as shown (in order, one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "trading.md"


def test_trading_md_snippets_run(capsys: object) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    order = namespace["o"]
    assert str(order.status) == "OrderStatus.FILLED"  # type: ignore[attr-defined]
