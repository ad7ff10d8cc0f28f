"""Hot reload: risk limits and strategy parameters change between two events, all or nothing;
a file that fails validation changes nothing and is reported; every change is journaled with
its diff; secrets stay out of the journal and the logs."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from hftcore import Engine, Instrument, Strategy
from hftcore.config import LiveConfig, load_config
from hftcore.data.events import delta, make_events

TEMPLATE = """\
[[instruments]]
venue = "binance"
symbol = "BTCUSDT"
price_decimals = 2
size_decimals = 5

[venues.binance]
api_secret = {{ env = "{secret_var}" }}
testnet = {testnet}

[risk.global]
max_open_orders = {max_open}

[risk.instruments."binance:BTCUSDT"]
max_size = "{max_size}"

[strategies.probe]
class = "hftcore.demo:MarketMaker"

[strategies.probe.params]
spread = {spread}
label = "{label}"
"""


class Probe(Strategy):
    """Notes, at every book update, its parameter and the risk limits it trades under."""

    def __init__(self) -> None:
        super().__init__()
        self.spread = 2
        self.label = "a"
        self.seen: list[tuple[int, str, int | None, int | None]] = []
        self.rejected: list[dict[str, Any]] = []

    def on_bbo(self, instrument: Instrument, book: Any) -> None:
        risk = self._engine.risk
        self.seen.append((self.spread, self.label, risk.global_limits.max_open_orders,
                          risk.limits(instrument).max_size))


class Hooked(Probe):
    """Takes its parameters through on_config (and can refuse them)."""

    def on_config(self, changes: dict[str, Any]) -> None:
        if changes.get("label") == "refuse":
            raise ValueError("label 'refuse' is not acceptable")
        for k, v in changes.items():
            setattr(self, k, v)


def write(path: Path, **kw: Any) -> None:
    vals = {"secret_var": "VENUE_SECRET", "testnet": "true", "max_open": 5, "max_size": "1",
            "spread": 2, "label": "a"}
    vals.update(kw)
    text = TEMPLATE.format(**vals)
    path.write_text(text)
    # a different mtime even on coarse clocks (the watcher compares mtime and size)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def events(n: int, t0: int = 1_000) -> Any:
    parts = [delta(t0, 0, 0, 100_00, 5, snapshot=True), delta(t0, 0, 1, 101_00, 5)]
    for k in range(n):
        parts.append(delta(t0 + 10 * (k + 1), 0, 0, 100_00, 5 + k))
    return make_events(parts)


def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: type[Probe] = Probe
          ) -> tuple[Path, Engine, Probe, LiveConfig, Path]:
    monkeypatch.setenv("VENUE_SECRET", "hunter2")
    monkeypatch.setenv("OTHER_SECRET", "hunter3")
    path = tmp_path / "c.toml"
    write(path)
    cfg = load_config(path)
    eng = Engine(list(cfg.instruments), risk=cfg.risk_engine())
    probe = cls()
    probe.name = "probe"
    eng.add_strategy(probe)
    journal = tmp_path / "journal.jsonl"
    live = LiveConfig(path, eng, journal=journal)
    return path, eng, probe, live, journal


def records(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_changes_apply_between_two_batches_all_together(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, probe, live, journal = setup(tmp_path, monkeypatch)
    eng.process(events(3, 1_000))
    write(path, max_open=7, max_size="0.5", spread=3, label="b")
    res = live.check()                       # validated now (any thread), applied by the engine
    assert res is not None and res.result == "applied"
    assert eng.risk.global_limits.max_open_orders == 5 and probe.spread == 2
    eng.process(events(3, 2_000))            # the whole batch sees the old values ...
    n_before = len(probe.seen)
    assert eng.risk.global_limits.max_open_orders == 7    # ... the change lands after it
    assert eng.risk.limits(eng.instruments[0]).max_size == 50_000
    assert (probe.spread, probe.label) == (3, "b")
    eng.process(events(3, 3_000))
    before, after = probe.seen[:n_before], probe.seen[n_before:]
    assert set(before) == {(2, "a", 5, 100_000)} and set(after) == {(3, "b", 7, 50_000)}
    (rec,) = records(journal)
    assert rec["result"] == "applied" and rec["sha256"] == live.config.sha256
    assert {c["key"]: (c["old"], c["new"]) for c in rec["changes"]} == {
        "risk.global.max_open_orders": (5, 7),
        'risk.instruments."binance:BTCUSDT".max_size': ("1", "0.5"),
        "strategies.probe.params.spread": (2, 3),
        "strategies.probe.params.label": ("a", "b"),
    }


def test_a_file_that_fails_validation_changes_nothing(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path, eng, _probe, live, journal = setup(tmp_path, monkeypatch)
    old = live.config
    write(path, max_open=9, max_size="0.000001")   # 6 decimals on a 5-decimal instrument
    with caplog.at_level(logging.ERROR, "hftcore.config"):
        res = live.reload()
    assert res is not None and res.result == "rejected"
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "max_size" in t)
    assert any(f"c.toml:{line}: risk.instruments.\"binance:BTCUSDT\".max_size" in e
               for e in res.errors)
    assert live.config is old
    assert eng.risk.global_limits.max_open_orders == 5     # the valid part was not applied
    eng.process(events(2))
    assert eng.risk.global_limits.max_open_orders == 5
    (rec,) = records(journal)
    assert rec["result"] == "rejected" and rec["changes"] == []
    assert "refused, nothing changed" in caplog.text


def test_a_parameter_of_another_type_is_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, probe, live, _journal = setup(tmp_path, monkeypatch)
    path.write_text(path.read_text().replace('label = "a"', "label = 3").replace(
        "max_open_orders = 5", "max_open_orders = 6"))
    res = live.reload()
    assert res is not None and res.result == "rejected"
    assert any("strategies.probe.params.label: int where the strategy has str" in e
               for e in res.errors)
    assert eng.risk.global_limits.max_open_orders == 5 and probe.label == "a"


def test_a_strategy_that_refuses_rolls_everything_back(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, probe, live, journal = setup(tmp_path, monkeypatch, Hooked)
    write(path, max_open=8, max_size="0.25", label="refuse")
    res = live.reload()
    assert res is not None and res.result == "failed"
    assert "label 'refuse' is not acceptable" in res.errors[0]
    assert eng.risk.global_limits.max_open_orders == 5
    assert eng.risk.limits(eng.instruments[0]).max_size == 100_000
    assert probe.label == "a" and live.config.raw["risk"]["global"]["max_open_orders"] == 5
    write(path, max_open=8, label="fine")
    res = live.reload()
    assert res is not None and res.result == "applied"
    assert probe.label == "fine" and eng.risk.global_limits.max_open_orders == 8
    assert [r["result"] for r in records(journal)] == ["failed", "applied"]


def test_other_changes_wait_for_a_restart_and_secrets_stay_hidden(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path, eng, _probe, live, journal = setup(tmp_path, monkeypatch)
    write(path, testnet="false", secret_var="OTHER_SECRET", max_open=6)
    with caplog.at_level(logging.INFO, "hftcore.config"):
        res = live.reload()
    assert res is not None and res.result == "applied"
    assert sorted(res.restart_required) == ["venues.binance.api_secret",
                                            "venues.binance.testnet"]
    assert eng.risk.global_limits.max_open_orders == 6
    text = journal.read_text()
    assert "Secret(env:OTHER_SECRET)" in text and "Secret(env:VENUE_SECRET)" in text
    for value in ("hunter2", "hunter3"):
        assert value not in text and value not in caplog.text
    assert "next start" in caplog.text


def test_the_file_watcher_stages_and_the_engine_applies(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, _probe, live, _journal = setup(tmp_path, monkeypatch)
    live.watch(0.02)
    try:
        write(path, max_open=11)
        deadline = time.monotonic() + 10
        while live._pending is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live._pending is not None
        assert eng.risk.global_limits.max_open_orders == 5     # staged, not yet applied
        eng.process(events(1))
        assert eng.risk.global_limits.max_open_orders == 11
    finally:
        live.stop()
    assert not eng._observers


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_a_signal_asks_for_a_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, _probe, live, _journal = setup(tmp_path, monkeypatch)
    old = signal.getsignal(signal.SIGUSR1)
    try:
        live.install_signal(signal.SIGUSR1)
        write(path, max_open=12)
        eng.process(events(1))
        assert eng.risk.global_limits.max_open_orders == 5     # no signal, no reload
        os.kill(os.getpid(), signal.SIGUSR1)
        eng.process(events(1, 5_000))            # the next batch boundary reads and applies
        assert eng.risk.global_limits.max_open_orders == 12
    finally:
        signal.signal(signal.SIGUSR1, old)
        live.stop()


def test_a_price_band_added_at_run_time_gets_reference_prices(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, eng, probe, live, _journal = setup(tmp_path, monkeypatch)
    eng.process(events(1))
    path.write_text(path.read_text().replace('max_size = "1"', 'max_size = "1"\nband_bps = 100'))
    res = live.reload()
    assert res is not None and res.result == "applied"
    inst = eng.instruments[0]
    order = eng.submit(probe, inst, 0, 1000, 100_00)   # within 1% of the mid: accepted
    assert order.reason == "" and order.status.name != "REJECTED"
