"""Ordinary mistakes on the command line end in one line on stderr and a documented exit status,
never a traceback (each case runs ``python -m hftcore`` as a subprocess, as a user would)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hftcore
from hftcore import cli

DATA = Path(__file__).parent / "data"
KRAKEN_BOOK = str(DATA / "kraken" / "ws_v1_book_2021-04-17.txt")


def run(*args: str, stdout: int = subprocess.PIPE, unbuffered: bool = True
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run([sys.executable, "-m", "hftcore", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, env=env)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """The stderr line of a failed run, after checking it is one line and the status."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    return lines[0]


@pytest.mark.parametrize(("args", "code", "words"), [
    (["verify", "/nonexistent/rec.txt", "--venue", "kraken"], cli.EXIT_INPUT,
     ["/nonexistent/rec.txt", "no such file"]),
    (["verify", str(DATA), "--venue", "kraken"], cli.EXIT_INPUT, ["is a directory"]),
    (["verify", str(DATA / "NOTICE"), "--venue", "kraken"], cli.EXIT_INPUT,
     ["NOTICE:1", "not a recording"]),
    (["verify", KRAKEN_BOOK, "--venue", "ftx"], cli.EXIT_USAGE,
     ["--venue", "unknown venue 'ftx'", "kraken"]),
    (["verify", KRAKEN_BOOK, "--venue", "kraken", "--decimals", "X=abc"], cli.EXIT_USAGE,
     ["--decimals", "X=abc", "SYMBOL=PRICE_DECIMALS,SIZE_DECIMALS"]),
    (["verify", KRAKEN_BOOK, "--venue", "kraken", "--decimals", "X=2,19"], cli.EXIT_USAGE,
     ["--decimals", "0 to 18"]),
    (["verify", KRAKEN_BOOK, "--venue", "kraken", "--decimals", "X2,5"], cli.EXIT_USAGE,
     ["--decimals"]),
    (["verify", KRAKEN_BOOK, "--venue", "kraken", "--depth", "-5"], cli.EXIT_USAGE,
     ["--depth", "-5"]),
    (["verify", KRAKEN_BOOK, "--venue", "kraken", "--depth", "ten"], cli.EXIT_USAGE,
     ["--depth", "'ten'"]),
    (["verify", KRAKEN_BOOK], cli.EXIT_USAGE, ["--venue"]),
    (["verify"], cli.EXIT_USAGE, ["FILE"]),
    (["nosuchcommand"], cli.EXIT_USAGE, ["nosuchcommand"]),
    (["--nosuchoption"], cli.EXIT_USAGE, ["--nosuchoption"]),
])
def test_mistakes_are_one_line_and_a_documented_status(args: list[str], code: int,
                                                         words: list[str]) -> None:
    assert code in cli.EXIT_CODES
    line = one_line_error(run(*args), code)
    assert line.startswith("hftcore")
    for w in words:
        assert w in line, line


def test_a_missing_file_among_good_ones_is_named() -> None:
    line = one_line_error(run("verify", KRAKEN_BOOK, "missing.txt", "--venue", "kraken"),
                          cli.EXIT_INPUT)
    assert "missing.txt" in line and KRAKEN_BOOK not in line


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"hftcore {hftcore.__version__}"


def test_help_documents_every_exit_status() -> None:
    for args in (["--help"], ["verify", "--help"]):
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
        assert "exit status" in proc.stdout
        for code, text in cli.EXIT_CODES.items():
            assert f"{code:<4} {text}" in proc.stdout, (code, args)


def test_docs_list_the_same_exit_codes() -> None:
    text = (Path(__file__).parents[1] / "docs" / "index.md").read_text(encoding="utf-8")
    for code in cli.EXIT_CODES:
        assert f"| {code} |" in text, code


@pytest.mark.parametrize("unbuffered", [False, True])
@pytest.mark.parametrize("args", [["verify", KRAKEN_BOOK, "--venue", "kraken"],
                                  ["verify", KRAKEN_BOOK, "--venue", "kraken", "--json"],
                                  ["info"], ["--help"]])
def test_output_closed_early_is_one_line_and_141(args: list[str], unbuffered: bool) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)                  # the reader is gone before the first write: EPIPE
    try:
        proc = run(*args, stdout=write_end, unbuffered=unbuffered)
    finally:
        os.close(write_end)
    line = one_line_error(proc, cli.EXIT_BROKEN_PIPE)
    assert "output closed early (broken pipe)" in line


def _fake(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def handler(args: argparse.Namespace) -> int:
        raise exc

    monkeypatch.setitem(cli.COMMANDS, "fake", ("raises", lambda p: None, handler))


@pytest.mark.parametrize(("exc", "code", "text"), [
    (KeyboardInterrupt(), cli.EXIT_INTERRUPTED, "hftcore fake: interrupted"),
    (cli.CliError("bad thing"), cli.EXIT_INPUT, "hftcore fake: error: bad thing"),
    (cli.CliError("odd", cli.EXIT_USAGE), cli.EXIT_USAGE, "hftcore fake: error: odd"),
])
def test_main_turns_ordinary_errors_into_a_status(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str],
                                                   exc: BaseException, code: int,
                                                   text: str) -> None:
    _fake(monkeypatch, exc)
    assert cli.main(["fake"]) == code
    assert capsys.readouterr().err == text + "\n"


def test_a_bug_still_shows_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["fake"])


def test_main_returns_usage_status_instead_of_exiting(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert cli.main(["verify", KRAKEN_BOOK, "--venue", "ftx"]) == cli.EXIT_USAGE
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"hftcore {hftcore.__version__}"
