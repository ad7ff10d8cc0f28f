"""The sink's, the configuration's and the archives' entry points refuse wrong types with an
error naming the parameter, and a refused call makes nothing (no directory, no thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hftcore import Engine, Instrument
from hftcore.config import LiveConfig, load_config, parse_config
from hftcore.data import archive
from hftcore.sink import DatabaseSink, LocalPostgres, SpillDir, migrate

INST = Instrument("binance", "BTCUSDT", price_decimals=2, size_decimals=5)
DSN = "postgresql://u@127.0.0.1:1/db"
CONFIG = '[[instruments]]\nvenue = "binance"\nsymbol = "BTCUSDT"\nprice_decimals = 2\n' \
         'size_decimals = 5\n'


def sink(d: Path, **kw: Any) -> Any:
    return DatabaseSink(DSN, d / "spill", connect_timeout=0.2, **kw)


def cases(d: Path, cfg: Path) -> list[tuple[str, Callable[[], Any], type[Exception]]]:
    return [
        ("spill_dir", lambda: DatabaseSink(DSN, 7), TypeError),    # type: ignore[arg-type]
        ("book_samples", lambda: sink(d, book_samples="yes"), TypeError),
        ("trades", lambda: sink(d, trades=1), TypeError),
        ("create_schema", lambda: sink(d, create_schema=None), TypeError),
        ("spill_fsync", lambda: sink(d, spill_fsync="no"), TypeError),
        ("spill_max_bytes", lambda: sink(d, spill_max_bytes=0), ValueError),
        ("queue_batches", lambda: sink(d, queue_batches=2.5), TypeError),
        ("poll_interval", lambda: sink(d, poll_interval="1"), TypeError),
        ("retry_max", lambda: sink(d, retry_max=float("inf")), ValueError),
        ("sample_interval_ns", lambda: sink(d, sample_interval_ns=1.0), TypeError),
        ("config_sha256", lambda: sink(d, config_sha256=5), TypeError),
        ("run", lambda: sink(d, run=""), ValueError),
        ("schema", lambda: sink(d, schema=5), TypeError),
        ("config", lambda: DatabaseSink.from_config({"dsn": DSN}), TypeError),
        ("path", lambda: SpillDir(3), TypeError),                  # type: ignore[arg-type]
        ("fsync", lambda: SpillDir(d / "spill", fsync=1), TypeError),
        ("port", lambda: LocalPostgres(port="5432"), TypeError),   # type: ignore[arg-type]
        ("durable", lambda: LocalPostgres(durable="yes"), TypeError),  # type: ignore[arg-type]
        ("target", lambda: asyncio.run(migrate(object(), "s", target=True)), TypeError),
        ("path", lambda: load_config(5), TypeError),               # type: ignore[arg-type]
        ("check_secrets", lambda: load_config(cfg, check_secrets="no"), TypeError),
        ("text", lambda: parse_config(b"x"), TypeError),           # type: ignore[arg-type]
        ("base", lambda: parse_config(CONFIG, "c.toml", 5), TypeError),
        ("engine", lambda: LiveConfig(cfg, object()), TypeError),  # type: ignore[arg-type]
        ("journal", lambda: LiveConfig(cfg, journal=5), TypeError),
        ("on_reload", lambda: LiveConfig(cfg, on_reload="print"), TypeError),
        ("strategies", lambda: LiveConfig(cfg, strategies=["mm"]), TypeError),
        ("root", lambda: archive.archive_recordings(str(cfg), 5), TypeError),
        ("recordings", lambda: archive.archive_recordings(5, d / "a"), TypeError),
        ("instruments[0]", lambda: archive.archive_recordings(str(cfg), d / "a", ["x"]),
         TypeError),
        ("chunk", lambda: archive.archive_event_file(cfg, d / "a", chunk="5"), TypeError),
        ("result", lambda: archive.archive_result("x", d / "a"), TypeError),
        ("run", lambda: archive.archive_fills(Engine([INST]), d / "a", run=5), TypeError),
        ("path", lambda: archive.read_instrument(5), TypeError),   # type: ignore[arg-type]
    ]


def test_wrong_arguments_are_refused_by_name_and_make_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    work = tmp_path / "work"
    work.mkdir()
    threads = threading.active_count()
    for name, call, exc in cases(work, cfg):
        with pytest.raises(exc) as info:
            call()
        assert str(info.value).startswith(name), (name, str(info.value))
        assert not list(work.iterdir()), (name, list(work.iterdir()))
    assert threading.active_count() == threads


def test_live_config_triggers_check_their_arguments(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    live = LiveConfig(cfg)
    with pytest.raises(ValueError, match="interval"):
        live.watch(0)
    with pytest.raises(TypeError, match="interval"):
        live.watch("1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="signum"):
        live.install_signal("HUP")  # type: ignore[arg-type]
    assert live._thread is None
    live.stop()


def test_sink_calls_check_their_arguments(tmp_path: Path) -> None:
    s = sink(tmp_path)
    try:
        for call, name in ((lambda: s.flush("1"), "timeout"),
                           (lambda: s.wait_replayed(-1), "timeout"),
                           (lambda: s.close(None), "timeout"),
                           (lambda: s.poll(1), "final"),
                           (lambda: s.put({"fills": []}), "batch")):
            with pytest.raises((TypeError, ValueError)) as info:
                call()
            assert str(info.value).startswith(name), str(info.value)
        assert s.stats()["rows_queued"] == 0 and s._thread.is_alive()
    finally:
        s.close()
    with pytest.raises(TypeError, match="^key"):
        parse_config(CONFIG, "c.toml").instrument(("binance", "BTCUSDT"))  # type: ignore[arg-type]
