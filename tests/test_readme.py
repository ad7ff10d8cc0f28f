"""The README's two set-up commands: the second is what CI runs, the first runs the demo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_exactly_two_setup_commands_and_ci_runs_the_second() -> None:
    cmds = commands()
    assert len(cmds) == 2, cmds
    install_demo, install_test = cmds
    assert "pip install ." in install_demo and "python -m hftcore demo" in install_demo
    assert 'pip install ".[test]"' in install_test and "python -m pytest" in install_test
    assert install_test in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_demo_command_runs() -> None:
    demo = commands()[0].split("&&")[-1].strip()
    args = demo.split("python -m hftcore", 1)[1].split()
    r = subprocess.run([sys.executable, "-m", "hftcore", *args], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "books valid at the end" in r.stdout and "10/10" in r.stdout
