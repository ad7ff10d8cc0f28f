"""Build ``examples/cython_strategy.pyx`` against the installed hftcore, then backtest it.

The ``.pyx`` ``cimport``s ``hftcore._ext.strategy`` and ``hftcore._ext.book``: Cython finds their
``.pxd`` files (shipped inside the hftcore package) through the directory that holds the
installed ``hftcore`` package, so the extension is compiled against the very C structs and
vtables of the hftcore it will run with.  The generated C and the compiled module go to a build
directory (``build/cython_strategy`` by default); nothing is written next to the sources.

Needs Cython 3 and a C compiler (``pip install "hftcore[test]"`` brings Cython).

Run: ``python examples/build_cython_strategy.py [--build-dir DIR] [--no-run]``
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

import hftcore
from hftcore.data import sample

HERE = Path(__file__).resolve().parent
PYX = HERE / "cython_strategy.pyx"
MODULE = PYX.stem


def hftcore_include_dir() -> Path:
    """The directory holding the installed ``hftcore`` package (where ``cimport
    hftcore._ext.book`` finds ``hftcore/_ext/book.pxd``)."""
    package = Path(hftcore.__file__).resolve().parent
    if not (package / "_ext" / "strategy.pxd").is_file():
        raise SystemExit(f"{package}: no _ext/strategy.pxd (an hftcore install without its "
                         ".pxd files cannot build Cython strategies)")
    return package.parent


def build(build_dir: Path) -> Path:
    """Compile the example into ``build_dir``; returns the directory to import it from."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    build_dir = build_dir.resolve()
    ext = Extension(MODULE, [str(PYX)], extra_compile_args=["-O2"])
    modules = cythonize([ext], include_path=[str(hftcore_include_dir())],
                        build_dir=str(build_dir / "c"), quiet=True,
                        compiler_directives={"language_level": 3})
    dist = Distribution({"name": MODULE, "ext_modules": modules})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(build_dir / "lib")     # type: ignore[attr-defined]
    cmd.build_temp = str(build_dir / "tmp")    # type: ignore[attr-defined]
    cmd.ensure_finalized()
    cmd.run()
    return build_dir / "lib"


def load(lib_dir: Path) -> ModuleType:
    """Import the built module from ``lib_dir``."""
    sys.path.insert(0, str(lib_dir))
    try:
        return importlib.import_module(MODULE)
    finally:
        sys.path.remove(str(lib_dir))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", type=Path, default=Path("build") / MODULE,
                   help="where the C file and the compiled module go")
    p.add_argument("--no-run", action="store_true", help="build only")
    args = p.parse_args()

    t0 = time.perf_counter()
    lib = build(args.build_dir)
    module = load(lib)
    print(f"built {module.__file__} in {time.perf_counter() - t0:.1f} s")
    if args.no_run:
        return

    from hftcore.backtest import backtest

    inst = next(i for i in sample.instruments() if i.symbol == "SKL-USD")
    strategy = module.ImbalanceQuoter(size=inst.qty("400"), max_position=inst.qty("2000"))
    result = backtest(strategy, sample.paths(), [inst], latency=100_000,
                      fees=("0.0001", "0.0005"), seed=0, progress=False)
    print(f"strategy {type(strategy).__name__} (a cdef class: {not hasattr(strategy, '__dict__')})"
          f" on {inst.symbol}")
    print(f"on_bbo calls {strategy.quotes}, quotes with a side pulled on the imbalance "
          f"{strategy.pulled}")
    print(result.summary())
    print(f"position {inst.format_qty(strategy.position(inst))} {inst.base}")


if __name__ == "__main__":
    main()
