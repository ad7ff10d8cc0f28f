"""The configuration file: validated on load with errors naming the key and the line; exact
amounts; secrets only by reference and never shown."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hftcore import InstrumentLimits, RiskLimits
from hftcore.config import ConfigError, Secret, load_config, parse_config
from hftcore.demo import MarketMaker

ROOT = Path(__file__).resolve().parents[1]

BASE = """\
[[instruments]]
venue = "binance"
symbol = "BTCUSDT"
price_decimals = 2
size_decimals = 5
tick = "0.01"
"""


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example configuration with its secrets where it expects them."""
    shutil.copy(ROOT / "examples" / "hftcore.toml", tmp_path / "hftcore.toml")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "binance.secret").write_text("file-secret-value\n")
    monkeypatch.setenv("BINANCE_API_KEY", "env-secret-value")
    monkeypatch.setenv("HFTCORE_PG_DSN", "postgresql://u:pw-in-env@127.0.0.1/db")
    return tmp_path / "hftcore.toml"


def test_the_example_loads_with_exact_amounts(example: Path) -> None:
    cfg = load_config(example)
    btc = cfg.instrument("binance:BTCUSDT")
    assert (btc.price_decimals, btc.size_decimals, btc.tick, btc.lot) == (2, 5, 1, 1)
    assert cfg.global_limits == RiskLimits(
        max_gross_exposure=250000 * 10**8, max_net_exposure=100000 * 10**8,
        max_daily_loss=5000 * 10**8, max_open_orders=40, max_errors=20,
        error_window_ns=1_000_000_000)
    assert cfg.instrument_limits["binance:BTCUSDT"] == InstrumentLimits(
        max_size=50000, max_position=200000, max_notional=50000 * 10**8, band_bps=50,
        max_open_orders=10)
    risk = cfg.risk_engine()
    assert risk.limits(btc).max_size == btc.qty("0.5")
    assert risk.global_limits.max_open_orders == 40
    strategies = cfg.build_strategies()
    mm, insts = strategies["mm"]
    assert isinstance(mm, MarketMaker) and mm.name == "mm"
    assert (mm.size_fraction, mm.max_inventory) == (4, 5)
    assert [i.symbol for i in insts] == ["BTCUSDT", "ETHUSDT"]
    pg = cfg.sinks["postgres"]
    assert pg.dsn.reveal() == "postgresql://u:pw-in-env@127.0.0.1/db" and pg.book_samples
    assert cfg.sinks["parquet"].dir == "archive"
    assert cfg.venues["binance"]["testnet"] is True
    assert cfg.venues["binance"]["api_secret"].reveal() == "file-secret-value"
    assert cfg.dashboard == {"enabled": False, "host": "127.0.0.1", "port": 8050}


def test_secrets_never_show(example: Path) -> None:
    cfg = load_config(example)
    shown = repr(cfg) + repr(cfg.raw) + repr(cfg.venues) + repr(cfg.sinks) + str(
        cfg.diff(cfg))
    for value in ("env-secret-value", "file-secret-value", "pw-in-env"):
        assert value not in shown
    key = cfg.venues["binance"]["api_key"]
    assert isinstance(key, Secret) and repr(key) == "Secret(env:BINANCE_API_KEY)"
    assert key.reveal() == "env-secret-value"


def test_secrets_written_in_the_file_are_refused_without_echo() -> None:
    text = BASE + """
[venues.binance]
api_secret = "hunter2"
password = "hunter3"

[sinks.postgres]
dsn = "postgresql://trader:hunter4@db.example/prod"
"""
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "c.toml")
    msg = str(ei.value)
    assert f"c.toml:{line_of(text, 'api_secret')}: venues.binance.api_secret: secrets are " \
           "never written" in msg
    assert f"c.toml:{line_of(text, 'password')}: venues.binance.password:" in msg
    assert f"c.toml:{line_of(text, 'dsn =')}: sinks.postgres.dsn: this DSN holds a password" \
        in msg
    for value in ("hunter2", "hunter3", "hunter4"):
        assert value not in msg
    # a DSN without a password may be written as it is
    cfg = parse_config(BASE + '[sinks.postgres]\ndsn = "postgresql://trader@db/prod"\n')
    assert cfg.sinks["postgres"].dsn.reveal() == "postgresql://trader@db/prod"


def test_missing_secrets_are_errors_unless_not_asked(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    text = BASE + '[venues.x]\napi_key = { env = "NOPE_NOT_SET" }\n' \
                  'api_secret = { file = "missing.secret" }\n'
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "c.toml", tmp_path)
    msg = str(ei.value)
    assert f":{line_of(text, 'api_key')}: venues.x.api_key: environment variable " \
           "NOPE_NOT_SET is not set" in msg
    assert f":{line_of(text, 'api_secret')}: venues.x.api_secret: cannot read secret file" in msg
    cfg = parse_config(text, "c.toml", tmp_path, check_secrets=False)
    assert cfg.venues["x"]["api_key"] == Secret("env", "NOPE_NOT_SET")


def test_every_error_names_its_key_and_line() -> None:
    text = BASE + """
[risk.global]
max_open_orders = 0
max_daily_loss = 5000.5

[risk.instruments."binance:BTCUSDT"]
max_size = 0.5
max_sise = "1"
band_bps = -3

[risk.instruments."binance:ETHUSDT"]
max_size = "1"

[strategies.mm]
class = "hftcore.demo:MarketMaker"
instruments = ["binance:BTCUSDT", "kraken:XBTUSD"]

[strategies.mm.params]
size_fraction = 1.5

[engine]
mode = "turbo"

[bogus]
x = 1
"""
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "c.toml")
    errors = {key: (line, msg) for line, key, msg in ei.value.errors}
    expect = {
        "risk.global.max_open_orders": "max_open_orders = 0",
        "risk.global.max_daily_loss": "max_daily_loss",
        'risk.instruments."binance:BTCUSDT".max_size': "max_size = 0.5",
        'risk.instruments."binance:BTCUSDT".max_sise': "max_sise",
        'risk.instruments."binance:BTCUSDT".band_bps': "band_bps",
        'risk.instruments."binance:ETHUSDT"': '"binance:ETHUSDT"]',
        "strategies.mm.instruments[1]": "kraken:XBTUSD",
        "strategies.mm.params.size_fraction": "size_fraction",
        "engine.mode": "turbo",
        "bogus": "[bogus]",
    }
    for key, needle in expect.items():
        assert key in errors, (key, sorted(errors))
        assert errors[key][0] == line_of(text, needle), key
    assert "float" in errors['risk.instruments."binance:BTCUSDT".max_size'][1]
    assert "unknown key" in errors['risk.instruments."binance:BTCUSDT".max_sise'][1]
    assert str(ei.value).splitlines()[0].startswith("c.toml:")


def test_a_syntax_error_names_its_line() -> None:
    text = BASE + "\n[risk.global\nmax_open_orders = 3\n"
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "c.toml")
    (line, key, _), = ei.value.errors
    assert key == "(syntax)" and line == line_of(text, "[risk.global")


def test_instruments_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"instruments: at least one"):
        parse_config("[engine]\nmode = \"paper\"\n", "c.toml")
    text = BASE + BASE.replace("tick", "lot")
    with pytest.raises(ConfigError, match=r"c.toml:\d+: instruments\[1\].symbol: "
                                          "binance:BTCUSDT is given twice"):
        parse_config(text, "c.toml")
    bad = BASE.replace('price_decimals = 2', 'price_decimals = 19')
    with pytest.raises(ConfigError, match=r"instruments\[0\].price_decimals: must be 0..18"):
        parse_config(bad, "c.toml")
    bad = BASE.replace('tick = "0.01"', 'tick = "0.001"')
    with pytest.raises(ConfigError, match=r"instruments\[0\].tick: '0.001' is not an exact"):
        parse_config(bad, "c.toml")


def test_min_above_max_is_refused_by_the_risk_engine_rules() -> None:
    text = BASE + '[risk.instruments."binance:BTCUSDT"]\nmin_size = "2"\nmax_size = "1"\n'
    with pytest.raises(ConfigError, match=r"risk.instruments.\"binance:BTCUSDT\".min_size: 2 is "
                                          "above max_size 1"):
        parse_config(text, "c.toml")
