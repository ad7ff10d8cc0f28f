"""Every Python snippet of docs/book.md runs as shown, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "book.md"


def test_book_doc_snippets_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/book.md, python block {i + 1}", "exec"), namespace)
