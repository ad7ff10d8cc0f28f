"""Command line: ``python -m hftcore info | verify | demo ...``.

Each sub-command registers itself in ``COMMANDS`` with a function that adds its arguments and one
that runs it, so later modules (verify, demo, bench) plug in without touching the others.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any

import hftcore

__all__ = ["COMMANDS", "build_info", "main"]

Handler = Callable[[argparse.Namespace], int]
#: name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
) -> Callable[[Handler], Handler]:
    """Register a sub-command."""

    def deco(fn: Handler) -> Handler:
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
    print(f"  build     {b.get('mode', '?')} ({b.get('cflags', '')})")
    print(f"  compiler  {b.get('compiler', '?')}")
    print(f"  cython    {b.get('cython', '?')}   built {b.get('built_at', '?')}")
    print(f"  modules   {', '.join(m['name'] for m in info['compiled_modules'])}")
    print(f"  python    {info['python']}")
    print(f"  numpy     {info['numpy']}")
    print(f"  platform  {info['platform']}")
    print(f"  cpu       {info['cpu']} x{info['cpu_count']}")
    return 0


_PLUGINS = ("hftcore.verify", "hftcore.demo", "hftcore.data.convert", "hftcore.record")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m hftcore`` and the ``hftcore`` script."""
    for plugin in _PLUGINS:
        try:
            importlib.import_module(plugin)
        except ModuleNotFoundError as exc:
            if exc.name != plugin:
                raise
    parser = argparse.ArgumentParser(prog="hftcore", description=hftcore.__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, add_args, _) in sorted(COMMANDS.items()):
        add_args(sub.add_parser(name, help=help_, description=help_))
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    return COMMANDS[args.command][2](args)


if __name__ == "__main__":
    sys.exit(main())
