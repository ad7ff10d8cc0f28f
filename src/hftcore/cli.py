"""Command line: ``python -m hftcore info | verify | demo ...``.

Each sub-command registers itself in ``COMMANDS`` with a function that adds its arguments and one
that runs it, so later modules (verify, demo, bench) plug in without touching the others.

Ordinary mistakes (a missing file, a bad option value, output piped into ``head``) end in one
line on stderr and one of the exit codes in ``EXIT_CODES``, never a traceback; a sub-command
reports them by raising `CliError`.  Only an unexpected error (a bug) prints a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import pkgutil
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import hftcore

__all__ = [
    "COMMANDS",
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "build_info",
    "command",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_NOTHING = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: exit code -> meaning (printed by ``python -m hftcore --help`` and in docs/index.md)
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (verify: every check passed)",
    EXIT_FAILED: "verify: the data failed a check (checksum, sequence, crossed book, decode, "
                 "unknown symbol)",
    EXIT_USAGE: "usage error: unknown command or option, bad option value",
    EXIT_INPUT: "an input cannot be read: missing file, directory, not a recording",
    EXIT_NOTHING: "verify: nothing to verify (no messages, or none carrying market data)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_BROKEN_PIPE: "output closed early (for instance piped into head)",
}


class CliError(Exception):
    """An ordinary mistake a command reports: one line on stderr, exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def print_help(self, file: Any = None) -> None:
        # argparse swallows a failed write; a closed stdout must end as one (EXIT_BROKEN_PIPE)
        (file or sys.stdout).write(self.format_help())


def exit_codes_text() -> str:
    """The exit-code table as printed at the end of ``--help``."""
    rows = "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES.items())
    return f"exit status:\n{rows}"


Handler = Callable[[argparse.Namespace], int]
#: name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}
_H = TypeVar("_H", bound=Handler)


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[_H], _H]:
    """Register a sub-command (the decorated function keeps its own signature)."""

    def deco(fn: _H) -> _H:
        COMMANDS[name] = (help, add_arguments or (lambda p: None), fn)
        return fn

    return deco


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_info() -> dict[str, Any]:
    """Version, compiled modules and how they were built, Python, numpy and the CPU."""
    import numpy

    import hftcore._ext as ext

    try:
        from hftcore._ext._build_info import BUILD_INFO
    except ImportError:  # built by a tool that bypassed setup.py's build_ext
        BUILD_INFO = {"mode": "unknown"}
    modules = []
    for mod in sorted(pkgutil.iter_modules(ext.__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        m = importlib.import_module(f"hftcore._ext.{mod.name}")
        modules.append({"name": mod.name, "file": os.path.basename(m.__file__ or "")})
    return {
        "hftcore": hftcore.__version__,
        "build": BUILD_INFO,
        "compiled_modules": modules,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


@command("info", "show the version and how the compiled core was built", _info_args)
def _info(args: argparse.Namespace) -> int:
    info = build_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    b = info["build"]
    print(f"hftcore {info['hftcore']}")
    flags = " ".join(f for f in (b.get("cflags", ""), b.get("ldflags", "")) if f)
    print(f"  build     {b.get('mode', '?')} ({flags})")
    print(f"  compiler  {b.get('compiler', '?')}")
    print(f"  cython    {b.get('cython', '?')}   built {b.get('built_at', '?')}")
    print(f"  modules   {', '.join(m['name'] for m in info['compiled_modules'])}")
    print(f"  python    {info['python']}")
    print(f"  numpy     {info['numpy']}")
    print(f"  platform  {info['platform']}")
    print(f"  cpu       {info['cpu']} x{info['cpu_count']}")
    return 0


_PLUGINS = ("hftcore.verify", "hftcore.demo", "hftcore.data.convert", "hftcore.bench",
            "hftcore.record")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hftcore", description=hftcore.__doc__, epilog=exit_codes_text(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hftcore {hftcore.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, add_args, _) in sorted(COMMANDS.items()):
        add_args(sub.add_parser(name, help=help_, description=help_, epilog=exit_codes_text(),
                                formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def _say(line: str) -> None:
    """One line on stderr; nothing if stderr is gone too."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _drop_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError):      # no real file descriptor (captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m hftcore`` and the ``hftcore`` script; returns the exit status.

    See ``EXIT_CODES`` for what each status means.
    """
    for plugin in (*_PLUGINS, "hftcore.top"):      # top: issue 14
        try:
            importlib.import_module(plugin)
        except ModuleNotFoundError as exc:
            if exc.name != plugin:
                raise
    name = "hftcore"
    try:
        parser = _parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:      # --help, --version, usage errors: argparse has printed
            sys.stdout.flush()
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        if not args.command:
            parser.print_help()
            sys.stdout.flush()
            return EXIT_USAGE
        name = f"hftcore {args.command}"
        status = COMMANDS[args.command][2](args)
        sys.stdout.flush()              # a closed pipe shows here, not at interpreter exit
        return status
    except CliError as exc:
        _say(f"{name}: error: {exc}")
        return exc.code
    except BrokenPipeError:
        _drop_stdout()
        _say(f"{name}: output closed early (broken pipe); stopped")
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _say(f"{name}: interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
