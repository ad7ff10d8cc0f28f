"""``python -m hftcore db init | migrate | status | replay``: the sink's schema from the shell.

The DSN comes from ``--dsn``, the environment variable named by ``--dsn-env`` (default
``HFTCORE_PG_DSN``), or the ``[sinks.postgres]`` section of ``--config FILE``; a password is
never printed (errors show the DSN with its password as ``***``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from hftcore.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_USAGE, CliError, command
from hftcore.sink.writer import mask_dsn

__all__ = ["mask_dsn", "resolve_dsn"]

def resolve_dsn(args: argparse.Namespace) -> str:
    """The DSN named by the command's options (see the module docstring)."""
    if args.dsn:
        return str(args.dsn)
    if args.config:
        from hftcore.config import ConfigError, load_config

        try:
            cfg = load_config(args.config, check_secrets=False)
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_INPUT) from None
        except OSError as exc:
            raise CliError(f"{args.config}: {exc.strerror or exc}", EXIT_INPUT) from None
        pg = cfg.sinks.get("postgres")
        if pg is None or pg.dsn is None:
            raise CliError(f"{args.config}: no [sinks.postgres] dsn", EXIT_USAGE)
        try:
            return str(pg.dsn.reveal())
        except (KeyError, OSError) as exc:
            raise CliError(f"{args.config}: sinks.postgres.dsn: {exc}", EXIT_USAGE) from None
    value = os.environ.get(args.dsn_env)
    if value:
        return value
    raise CliError(f"no database: give --dsn, --config FILE, or set {args.dsn_env}", EXIT_USAGE)


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("init", "migrate", "status", "replay"),
                   help="init: create the schema (a no-op when it is current); migrate: apply "
                        "the migrations the database lacks; status: print the version; replay: "
                        "write a spill directory's rows")
    p.add_argument("--dsn", default=None,
                   help="postgresql://user@host:port/db (prefer --dsn-env for passwords)")
    p.add_argument("--dsn-env", default="HFTCORE_PG_DSN", metavar="VAR",
                   help="environment variable holding the DSN (default HFTCORE_PG_DSN)")
    p.add_argument("--config", default=None, metavar="FILE",
                   help="take the DSN from this configuration's [sinks.postgres]")
    p.add_argument("--schema", default="hftcore", help="PostgreSQL schema (default hftcore)")
    p.add_argument("--to", type=int, default=None, metavar="VERSION",
                   help="migrate: stop at this version")
    p.add_argument("--timescale", choices=("auto", "yes", "no"), default="auto",
                   help="hypertables: when the extension is available (auto), always, never")
    p.add_argument("--spill", default=None, metavar="DIR", help="replay: the spill directory")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to connect")


async def _connect(dsn: str, timeout: float) -> Any:
    import asyncpg

    return await asyncpg.connect(dsn, timeout=timeout)


async def _schema_action(args: argparse.Namespace, dsn: str) -> int:
    from hftcore.sink.schema import SCHEMA_VERSION, current_version, migrate

    ts = {"auto": None, "yes": True, "no": False}[args.timescale]
    conn = await _connect(dsn, args.timeout)
    try:
        before = await current_version(conn, args.schema)
        if args.action == "status":
            hyper = False
            if before:
                hyper = bool(await conn.fetchval(
                    f"SELECT bool_or(hypertables) FROM {args.schema}.schema_migrations"))
            print(f"schema {args.schema}: version {before} of {SCHEMA_VERSION}"
                  f"{' (current)' if before == SCHEMA_VERSION else ''}; "
                  f"{'hypertables' if hyper else 'plain tables'}")
            return EXIT_OK
        if args.action == "init" and args.to is not None:
            raise CliError("init creates the latest schema; use migrate --to N", EXIT_USAGE)
        applied = await migrate(conn, args.schema, args.to, ts)
        after = await current_version(conn, args.schema)
    finally:
        await conn.close()
    if applied:
        print(f"schema {args.schema}: version {before} -> {after} (applied "
              f"{', '.join(map(str, applied))})")
    else:
        print(f"schema {args.schema}: already at version {after}; nothing to do")
    return EXIT_OK


def _replay(args: argparse.Namespace, dsn: str) -> int:
    from hftcore.sink.spill import SpillDir
    from hftcore.sink.writer import PgWriter, merge

    if not args.spill:
        raise CliError("replay needs --spill DIR", EXIT_USAGE)
    path = Path(args.spill)
    if not path.is_dir():
        raise CliError(f"{path}: no such spill directory", EXIT_INPUT)
    spill = SpillDir(path)
    writer = PgWriter(dsn, args.schema, connect_timeout=args.timeout)
    total = new = segs = 0

    async def run() -> None:
        nonlocal total, new, segs
        try:
            for seg in spill.pending():
                g, n = await writer.write(merge([spill.read(seg)]))
                spill.remove(seg)
                total += g
                new += n
                segs += 1
        finally:
            await writer.close()

    asyncio.run(run())
    print(f"{path}: {segs} segments, {total} rows replayed, {new} new, {total - new} already "
          f"there; damaged bytes skipped {spill.damaged_bytes}")
    return EXIT_OK if not spill.damaged_bytes else EXIT_FAILED


@command("db", "create, migrate or inspect the database sink's schema; replay a spill", _args)
def _db(args: argparse.Namespace) -> int:
    try:
        import asyncpg
    except ImportError:
        raise CliError("the database sink needs asyncpg: pip install 'hftcore[postgres]'",
                       EXIT_USAGE) from None
    from hftcore.sink.schema import check_schema_name

    try:
        check_schema_name(args.schema)
    except ValueError as exc:
        raise CliError(f"--schema: {exc}", EXIT_USAGE) from None
    dsn = resolve_dsn(args)
    try:
        if args.action == "replay":
            return _replay(args, dsn)
        return asyncio.run(_schema_action(args, dsn))
    except CliError:
        raise
    except (TimeoutError, OSError) as exc:
        raise CliError(mask_dsn(f"cannot reach the database: {exc}", dsn), EXIT_FAILED) from None
    except ValueError as exc:
        raise CliError(mask_dsn(str(exc), dsn), EXIT_USAGE) from None
    except Exception as exc:      # asyncpg's errors: the server refused (auth, permissions...)
        import asyncpg

        if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | RuntimeError):
            raise CliError(mask_dsn(f"{type(exc).__name__}: {exc}", dsn), EXIT_FAILED) from None
        raise
