"""A throw-away PostgreSQL cluster on 127.0.0.1, for tests and benchmarks.

Uses the server binaries of the system's ``postgresql`` package (Debian:
``/usr/lib/postgresql/<version>/bin``).  The server refuses to run as root; run as root, the
cluster is made and started as the ``postgres`` user (``runuser``), in a temporary directory it
owns.  ``trust`` authentication, listening on 127.0.0.1 only::

    with LocalPostgres() as pg:
        sink = DatabaseSink(pg.dsn, spill_dir)
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from hftcore._args import check_bool, check_path

__all__ = ["LocalPostgres", "find_bin_dir"]


def find_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl`` (``HFTCORE_PG_BIN``, the newest
    ``/usr/lib/postgresql/*/bin``, or the PATH), or None when PostgreSQL is not installed."""
    env = os.environ.get("HFTCORE_PG_BIN")
    if env:
        p = Path(env)
        return p if (p / "initdb").exists() and (p / "pg_ctl").exists() else None
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda s: int(Path(s).parent.name) if Path(s).parent.name.isdigit()
                   else 0)
    for c in reversed(cands):
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


#: variables of a sanitizer run (.ci/sanitizers) that must not reach the server: a preloaded
#: libasan in initdb / postgres (run as another user, its log directory unwritable) hangs them
_NOT_FOR_THE_SERVER = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
                       "PYTHONMALLOC")


def _server_env() -> dict[str, str]:
    """This process's environment without what is meant for the Python under test only."""
    return {k: v for k, v in os.environ.items() if k not in _NOT_FOR_THE_SERVER}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """A PostgreSQL cluster of its own: ``start()``, ``stop()``, ``restart()``, ``dsn``.

    Parameters
    ----------
    port : int, optional
        TCP port on 127.0.0.1 (a free one by default).
    bin_dir : path, optional
        Where ``initdb`` / ``pg_ctl`` are (see :func:`find_bin_dir`).
    durable : bool
        Keep PostgreSQL's durability settings (fsync, synchronous commit); off by default, as
        suits a throw-away test cluster.
    """

    #: seconds one server command (initdb, pg_ctl) may take
    command_timeout: float = 120.0

    def __init__(self, port: int | None = None, bin_dir: str | Path | None = None,
                 durable: bool = False) -> None:
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
            raise TypeError(f"port must be an int or None, got {type(port).__name__}")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        check_path(bin_dir, "bin_dir", optional=True)
        check_bool(durable, "durable")
        b = Path(bin_dir) if bin_dir is not None else find_bin_dir()
        if b is None:
            raise FileNotFoundError("PostgreSQL server binaries not found (install the "
                                    "'postgresql' package, or set HFTCORE_PG_BIN)")
        self.bin_dir = b
        self.port = port or _free_port()
        self._as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="hftcore-pg-"))
        self.data = self.root / "data"
        self.user = "postgres"
        self.durable = durable
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run([str(b / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user,
                   "-E", "UTF8", "--no-sync"])
        self.running = False

    @property
    def dsn(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres``."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        # a process group of its own: a command that hangs is ended with everything it started
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_server_env(), start_new_session=True)
        try:
            out, err = proc.communicate(timeout=self.command_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"{' '.join(cmd)} did not finish in {self.command_timeout} s "
                               "(ended, with what it started)") from None
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{(err or out).strip()[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if not self.durable:
            opts += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                   str(self.root / "server.log"), "-w", "-t", "60", "start"])
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode``: ``smart``, ``fast`` or ``immediate``)."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"mode must be 'smart', 'fast' or 'immediate', got {mode!r}")
        if not self.running:
            return
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                   "-t", "60", "stop"])
        self.running = False

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
