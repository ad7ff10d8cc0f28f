"""The docs run as shown: every fenced ``python`` block of ``docs/*.md`` and ``README.md`` is
executed, the blocks of one page in order in one namespace (in a scratch directory), and a block
written as a ``>>>`` session runs as a doctest, so its printed results are checked.

A block that cannot run offline carries ``<!-- docs-test: skip REASON -->`` on the line just
before its opening fence.  Blocks known to fail in pages other modules own are listed in
``EXPECTED_FAILURES`` (strict: the entry must go when the block runs).  The documented benchmark
command must collect benchmarks.
"""

from __future__ import annotations

import contextlib
import doctest
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

SKIP_MARK = re.compile(r"^\s*<!--\s*docs-test:\s*skip\b\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
PYTHON = {"python", "py", "pycon"}

#: (page, block number on the page, from 1) -> why it does not run today.  These pages belong
#: to other modules; the entry goes when the block runs (the xfail is strict).
EXPECTED_FAILURES: dict[tuple[str, int], str] = {
    ("decoders.md", 1): "a fragment: `time`, `frame` and `book` are never defined",
}


@dataclass(frozen=True)
class Block:
    page: Path
    number: int                 # 1-based among the page's python blocks
    line: int                   # line of the first code line
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.page.name}#{self.number}:L{self.line}"


def python_blocks(page: Path) -> list[Block]:
    """The fenced python blocks of a markdown page, with their skip markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m["lang"]:
            i += 1
            continue
        start, indent = i, m["indent"]
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if m["lang"] in PYTHON:
            prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
            skip = SKIP_MARK.match(prev)
            body = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln
                             for ln in lines[start + 1:i])
            out.append(Block(page, len(out) + 1, start + 2, textwrap.dedent(body) + "\n",
                             (skip["reason"] or "marked skip") if skip else None))
        i += 1
    return out


BLOCKS = [b for page in PAGES for b in python_blocks(page)]


def _param(b: Block) -> Any:
    reason = EXPECTED_FAILURES.get((b.page.name, b.number))
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(b, id=b.id, marks=marks)


class Page:
    """One page's namespace and scratch directory; blocks run once each, in order."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.namespace: dict[str, Any] = {"__name__": "__docs__"}
        self.done: set[int] = set()

    def run(self, b: Block) -> None:
        self.done.add(b.number)
        name = str(b.page.relative_to(ROOT)) if b.page.is_relative_to(ROOT) else str(b.page)
        if any(ln.lstrip().startswith(">>>") for ln in b.code.splitlines()):
            test = doctest.DocTestParser().get_doctest(b.code, self.namespace, name, name,
                                                       b.line - 1)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            report: list[str] = []
            runner.run(test, out=report.append, clear_globs=False)
            self.namespace.update(test.globs)
            assert runner.failures == 0, "".join(report)
        else:
            # pad so that a traceback names the page's own line numbers
            code = compile("\n" * (b.line - 1) + b.code, name, "exec")
            exec(code, self.namespace)


_PAGES: dict[Path, Page] = {}


@pytest.fixture
def page(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         monkeypatch: pytest.MonkeyPatch) -> Page:
    b: Block = request.getfixturevalue("block")
    pg = _PAGES.get(b.page)
    if pg is None:
        pg = _PAGES[b.page] = Page(tmp_path_factory.mktemp(b.page.stem))
    monkeypatch.chdir(pg.workdir)
    # blocks before this one run first (their own tests report how they went)
    for earlier in python_blocks(b.page)[: b.number - 1]:
        if earlier.number not in pg.done and earlier.skip is None:
            with contextlib.suppress(Exception):
                pg.run(earlier)
    return pg


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS])
def test_doc_block_runs(block: Block, page: Page) -> None:
    if block.skip is not None:
        pytest.skip(block.skip)
    page.run(block)


def test_blocks_are_found_and_expected_failures_exist() -> None:
    pages = {b.page.name for b in BLOCKS}
    assert {"index.md", "book.md", "trading.md"} <= pages
    found = {(b.page.name, b.number) for b in BLOCKS}
    assert set(EXPECTED_FAILURES) <= found, set(EXPECTED_FAILURES) - found


def test_parser_reads_skip_markers_doctests_and_indented_blocks(tmp_path: Path) -> None:
    md = tmp_path / "x.md"
    md.write_text(textwrap.dedent("""\
        text
        ```python
        a = 1
        ```
        <!-- docs-test: skip needs the network -->
        ```python
        import urllib.request
        ```
        ```bash
        echo no
        ```
        - a list item:
          ```python
          >>> 1 + 1
          2
          ```
        """), encoding="utf-8")
    a, b, c = python_blocks(md)
    assert (a.code, a.line, a.skip) == ("a = 1\n", 3, None)
    assert b.skip == "needs the network"
    assert c.code == ">>> 1 + 1\n2\n" and c.line == 14
    pg = Page(tmp_path)
    pg.run(a)
    pg.run(c)
    assert pg.namespace["a"] == 1
    wrong = Block(md, 4, 1, ">>> a + 1\n3\n", None)
    with pytest.raises(AssertionError, match="Expected"):
        pg.run(wrong)
    with pytest.raises(NameError):
        pg.run(Block(md, 5, 1, "undefined_name\n", None))


def test_documented_benchmark_command_collects_benchmarks() -> None:
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if "-m pytest benchmarks" in ln]
    cmd = line.split("&&")[-1].split("#")[0]
    args = shlex.split(cmd)
    assert args[:3] == [".venv/bin/python", "-m", "pytest"], args
    paths = [str(p.relative_to(ROOT)) for a in args[3:] for p in sorted(ROOT.glob(a))]
    assert paths, args
    proc = subprocess.run([sys.executable, "-m", "pytest", *paths, "--collect-only", "-q",
                           "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    # exit 5 is "no tests collected": the command as once documented
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert re.search(r"^(\d+) tests? collected", proc.stdout, re.M), proc.stdout[-500:]


def test_index_links_every_page() -> None:
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(([\w.-]+\.md)\)", text))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages, "no pages found"
    assert pages - linked == set(), f"docs/index.md does not link {sorted(pages - linked)}"
    assert linked - pages == set(), f"docs/index.md links missing {sorted(linked - pages)}"
