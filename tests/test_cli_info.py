"""``python -m hftcore info`` reports the build of the installed compiled core."""

from __future__ import annotations

import json
import subprocess
import sys

import hftcore


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hftcore", *args], capture_output=True, text=True, timeout=120
    )


def test_info_json_lists_compiled_modules_and_build() -> None:
    proc = run("info", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["hftcore"] == hftcore.__version__
    names = {m["name"] for m in info["compiled_modules"]}
    assert "fixed" in names
    assert info["build"]["mode"] in ("release", "debug")
    assert info["build"]["cython"].startswith("3.")
    assert info["numpy"] and info["python"].startswith("CPython")
    assert info["cpu"]


def test_info_text() -> None:
    proc = run("info")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"hftcore {hftcore.__version__}")
    assert "cython" in proc.stdout and "fixed" in proc.stdout


def test_no_command_prints_help_and_fails() -> None:
    proc = run()
    assert proc.returncode == 2
    assert "info" in proc.stdout
