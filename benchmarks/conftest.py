"""Benchmark helpers: per-operation timing of loops, and a ratio table printed at the end.

Benchmarks are opt-in (``python -m pytest benchmarks``); they are not part of the test run.
Each benchmark times a whole loop over N items and reports nanoseconds per item, so the
measurement is not dominated by pytest-benchmark's own per-call overhead.  Peers that are not
installed are skipped, not failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest


def compile_c_floor(name: str) -> Any:
    """Compile ``benchmarks/c_floor/<name>.c`` with the system compiler (-O3) and load it with
    ctypes; None where no compiler is available (the floor is then skipped, not failed)."""
    import ctypes
    import shutil
    import subprocess
    import sysconfig
    import tempfile
    from pathlib import Path

    src = Path(__file__).parent / "c_floor" / f"{name}.c"
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not (shutil.which(cc) and src.exists()):
        return None
    out = Path(tempfile.mkdtemp(prefix="hftcore-bench-")) / f"{name}.so"
    cmd = [cc, "-O3", "-shared", "-fPIC", "-o", str(out), str(src)]
    if subprocess.run(cmd, capture_output=True, timeout=120).returncode != 0:
        return None
    return ctypes.CDLL(str(out))


#: group -> {name: ns per item}
RESULTS: dict[str, dict[str, float]] = defaultdict(dict)


def per_item(benchmark: Any, group: str, name: str, fn: Callable[[], object], n: int,
             rounds: int = 7) -> float:
    """Time ``fn`` (which processes ``n`` items) and record the best ns per item."""
    benchmark.group = group
    benchmark.name = name
    benchmark.extra_info["items"] = n
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    ns = benchmark.stats.stats.min * 1e9 / n
    benchmark.extra_info["ns_per_item"] = ns
    RESULTS[group][name] = ns
    return ns


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("hftcore vs peers (best of rounds, ns per item; ratio = peer / hftcore)")
    for group, rows in RESULTS.items():
        ours = [v for k, v in rows.items() if k.startswith("hftcore")]
        base = min(ours) if ours else None
        tr.write_line(f"[{group}]")
        for name, ns in sorted(rows.items(), key=lambda kv: kv[1]):
            ratio = f"{ns / base:7.2f}x" if base else ""
            tr.write_line(f"  {name:<48} {ns:12.1f} ns  {ratio}")


@pytest.fixture
def record() -> Callable[..., float]:
    return per_item
