"""One TOML file for a trading process: instruments, venues, risk limits, strategies, sinks and
the dashboard; validated on load, reloaded safely while trading.

>>> cfg = load_config("hftcore.toml")                                   # doctest: +SKIP
>>> risk = cfg.risk_engine(); strategies = cfg.build_strategies()       # doctest: +SKIP
>>> live = LiveConfig("hftcore.toml", engine=engine, journal="reloads.jsonl")  # doctest: +SKIP
>>> live.watch()            # reload when the file changes (or live.install_signal(): SIGHUP)

Rules (docs/config.md has the whole format):

* every error names the file, the line and the dotted key (``hftcore.toml:14:
  risk.instruments."binance:BTCUSDT".max_size: ...``); all errors of a file are reported at once;
* amounts are exact: prices, sizes and notionals are decimal text (``"0.5"``) or whole numbers
  in the instrument's units (``2`` is 2 BTC); a TOML float (``0.5``) is refused - it is not exact;
* secrets are never in the file: a value ``{ env = "NAME" }`` or ``{ file = "path" }`` becomes a
  :class:`Secret` read from the environment or that file; keys that name a secret (``*password*``,
  ``*secret*``, ``*token*``, ``api_key``, ``passphrase``, ``private_key``) and DSNs with a
  password must use one;  secrets never appear in reprs, errors, logs or the journal;
* hot reload changes risk limits and strategy parameters only, between two events, all or
  nothing; other changes are reported as needing a restart; a file that fails validation changes
  nothing; each reload is journaled (JSON lines) with its diff.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import orjson

from hftcore import fixed
from hftcore._args import (
    check_bool,
    check_callable,
    check_path,
    check_positive_seconds,
    check_text,
)
from hftcore.model import Instrument
from hftcore.risk import InstrumentLimits, RiskEngine, RiskLimits, VenueRateLimit

if TYPE_CHECKING:
    from hftcore._ext.strategy import Strategy
    from hftcore.engine import Engine

__all__ = [
    "Config",
    "ConfigError",
    "LiveConfig",
    "PostgresSinkConfig",
    "ReloadResult",
    "Secret",
    "StrategyConfig",
    "load_config",
    "parse_config",
]

log = logging.getLogger("hftcore.config")

Path_ = tuple[str | int, ...]

_SECRET_WORDS = ("password", "secret", "token", "passphrase", "private_key", "api_key",
                 "apikey", "credential")
_MODES = ("backtest", "paper", "live", "observe")
_SECTIONS = ("engine", "instruments", "venues", "risk", "strategies", "sinks", "dashboard",
             "config")


# -- errors and lines ---------------------------------------------------------------------------
def _fmt_key(path: Path_) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
            continue
        part = p if p.replace("_", "").replace("-", "").isalnum() else f'"{p}"'
        out += ("." if out else "") + part
    return out or "(file)"


class ConfigError(ValueError):
    """A configuration that does not validate.  ``errors`` lists ``(line, key, message)``
    (line 0: not tied to a line); the message has one line per error."""

    def __init__(self, path: str, errors: list[tuple[int, str, str]]) -> None:
        self.path = path
        self.errors = errors
        super().__init__("\n".join(f"{path}:{line}: {key}: {msg}" if line else
                                   f"{path}: {key}: {msg}" for line, key, msg in errors))


def _split_key(text: str) -> list[str]:
    """A TOML dotted key into its parts (quotes removed)."""
    parts, cur, quote = [], "", ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                cur += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _find_eq(line: str) -> int:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return i
        elif ch == "#":
            return -1
    return -1


def key_lines(text: str) -> dict[Path_, int]:
    """Where each key and table of a TOML text is: ``{(part, ...): line}``.  Arrays of tables
    add their index (``("instruments", 0, "symbol")``); keys of inline tables map to their line.
    """
    out: dict[Path_, int] = {}
    table: Path_ = ()
    arrays: dict[Path_, int] = {}
    multi = ""
    depth = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if multi:
            if line.count(multi) % 2:
                multi = ""
            continue
        if depth > 0:
            depth += _brackets(line)
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith("[["):
            end = line.find("]]")
            path = tuple(_split_key(line[2:end]))
            idx = arrays.get(path, 0)
            arrays[path] = idx + 1
            table = (*path, idx)
            out.setdefault(table, no)
            out.setdefault(path, no)
            continue
        if line.startswith("["):
            end = line.rfind("]")
            table = tuple(_split_key(line[1:end]))
            out.setdefault(table, no)
            continue
        eq = _find_eq(line)
        if eq < 0:
            continue
        kpath = (*table, *_split_key(line[:eq]))
        out[kpath] = no
        value = line[eq + 1:].strip()
        if value.startswith("{"):
            for part in value.strip("{} ").split(","):
                e = _find_eq(part)
                if e > 0:
                    out[(*kpath, *_split_key(part[:e]))] = no
        for q in ('"""', "'''"):
            if value.count(q) % 2:
                multi = q
        if not multi:
            depth = _brackets(value)
    return out


def _brackets(text: str) -> int:
    n, quote = 0, ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            n += 1
        elif ch in "]}":
            n -= 1
    return n


class _Check:
    """Collects errors with their lines."""

    def __init__(self, path: str, lines: dict[Path_, int]) -> None:
        self.path = path
        self.lines = lines
        self.errors: list[tuple[int, str, str]] = []

    def line(self, key: Path_) -> int:
        k = key
        while k:
            if k in self.lines:
                return self.lines[k]
            k = k[:-1]
        return 0

    def error(self, key: Path_, message: str) -> None:
        self.errors.append((self.line(key), _fmt_key(key), message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigError(self.path, sorted(self.errors, key=lambda e: (e[0], e[1])))


# -- secrets ------------------------------------------------------------------------------------
class Secret:
    """A value kept out of the configuration file: read from an environment variable or a file.

    ``repr``/``str`` show where it comes from, never the value; :meth:`reveal` returns it.
    """

    __slots__ = ("_base", "name", "source")

    def __init__(self, source: str, name: str, base: Path | None = None) -> None:
        if source not in ("env", "file"):
            raise ValueError(f"source must be 'env' or 'file', got {source!r}")
        if not isinstance(name, str) or not name:
            raise ValueError("name must be non-empty text")
        self.source = source
        self.name = name
        self._base = base

    @property
    def file(self) -> Path:
        """The secret's file (``source == "file"``), relative paths from the config's folder."""
        p = Path(self.name).expanduser()
        return p if p.is_absolute() or self._base is None else self._base / p

    def reveal(self) -> str:
        """The secret's value (``KeyError`` / ``OSError`` when it is missing)."""
        if self.source == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise KeyError(f"environment variable {self.name} is not set")
            return value
        return self.file.read_text(encoding="utf-8").strip()

    def problem(self) -> str:
        """Why :meth:`reveal` would fail ("" when it would not)."""
        if self.source == "env":
            return "" if os.environ.get(self.name) else f"environment variable {self.name} " \
                                                         "is not set"
        try:
            text = self.file.read_text(encoding="utf-8")
        except OSError as exc:
            return f"cannot read secret file {self.file}: {exc.strerror or exc}"
        return "" if text.strip() else f"secret file {self.file} is empty"

    def __repr__(self) -> str:
        return f"Secret({self.source}:{self.name})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret) or (self.source, self.name) != (other.source,
                                                                         other.name):
            return False
        return self.source == "env" or self.file == other.file

    def __hash__(self) -> int:
        return hash((self.source, self.name))


def _is_secret_ref(v: object) -> bool:
    return isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("env", "file")


def _secret_named(key: str) -> bool:
    k = key.lower()
    return any(w in k for w in _SECRET_WORDS)


def _dsn_has_password(dsn: str) -> bool:
    if "://" in dsn:
        rest = dsn.split("://", 1)[1]
        userinfo = rest.split("@", 1)[0] if "@" in rest else ""
        return ":" in userinfo
    return "password" in dsn.lower()


def _resolve_secrets(chk: _Check, node: Any, path: Path_, base: Path, present: bool) -> Any:
    """Secret references as :class:`Secret` (``present``: each must be readable now); plain
    text where a secret belongs is an error."""
    if _is_secret_ref(node):
        source, name = next(iter(node.items()))
        if not isinstance(name, str) or not name:
            chk.error(path, f"{{ {source} = ... }} needs non-empty text")
            return None
        s = Secret(source, name, base)
        why = s.problem() if present else ""
        if why:
            chk.error(path, why)
        return s
    if isinstance(node, dict):
        return {k: _resolve_secrets(chk, v, (*path, k), base, present) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_secrets(chk, v, (*path, i), base, present) for i, v in enumerate(node)]
    key = next((p for p in reversed(path) if isinstance(p, str)), "")
    if isinstance(node, str) and node and _secret_named(key):
        chk.error(path, "secrets are never written in the configuration: use "
                        '{ env = "VARIABLE" } or { file = "path" }')
        return None
    if isinstance(node, str) and key == "dsn" and _dsn_has_password(node):
        chk.error(path, "this DSN holds a password: give the DSN as "
                        '{ env = "VARIABLE" } or { file = "path" }')
        return None
    return node


def _mask(node: Any) -> Any:
    """JSON-able copy with secrets as their references."""
    if isinstance(node, Secret):
        return repr(node)
    if isinstance(node, dict):
        return {k: _mask(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v) for v in node]
    if isinstance(node, Instrument):
        return f"{node.venue}:{node.symbol}"
    return node


# -- typed sections -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StrategyConfig:
    """One ``[strategies.NAME]`` table: the class (``module:Class`` or ``path.py:Class``), the
    instruments it trades (``"venue:symbol"``; all by default) and its parameters."""

    name: str
    cls: str
    instruments: tuple[str, ...]
    params: dict[str, Any]
    enabled: bool = True


@dataclass(frozen=True)
class PostgresSinkConfig:
    """``[sinks.postgres]``: the arguments of :class:`hftcore.sink.DatabaseSink`."""

    dsn: Secret | None
    enabled: bool = True
    schema: str = "hftcore"
    spill_dir: str = "hftcore-spill"
    poll_interval_ms: int = 50
    sample_interval_ms: int = 1000
    book_samples: bool = False
    trades: bool = False
    queue_batches: int = 1024
    batch_rows: int = 20_000
    flush_interval_ms: int = 200
    spill_max_bytes: int = 1 << 30
    create_schema: bool = True


@dataclass(frozen=True)
class ParquetSinkConfig:
    """``[sinks.parquet]``: where :mod:`hftcore.data.archive` writes (``dir``) and what."""

    dir: str
    enabled: bool = True
    fills: bool = True
    equity: bool = True
    events: bool = False


@dataclass(frozen=True)
class Config:
    """A validated configuration (see the module docstring).  ``raw`` is the parsed TOML with
    secrets as :class:`Secret`; the other attributes are its typed sections."""

    path: str
    sha256: str
    raw: dict[str, Any]
    mode: str
    instruments: tuple[Instrument, ...]
    notional_decimals: int
    global_limits: RiskLimits
    instrument_limits: dict[str, InstrumentLimits]
    rate_limits: dict[str, VenueRateLimit]
    strategies: dict[str, StrategyConfig]
    venues: dict[str, dict[str, Any]]
    sinks: dict[str, Any]
    dashboard: dict[str, Any]
    engine: dict[str, Any] = field(default_factory=dict)

    def instrument(self, key: str) -> Instrument:
        """An instrument by ``"venue:symbol"``."""
        check_text(key, "key")
        for inst in self.instruments:
            if f"{inst.venue}:{inst.symbol}" == key:
                return inst
        raise KeyError(f"no instrument {key!r} in {self.path}")

    def risk_engine(self, **kwargs: Any) -> RiskEngine:
        """A :class:`RiskEngine` with every instrument and the configured limits."""
        risk = RiskEngine(self.notional_decimals, self.global_limits, **kwargs)
        for inst in self.instruments:
            risk.add_instrument(inst, self.instrument_limits.get(_ikey(inst)))
        for venue, lim in self.rate_limits.items():
            risk.set_rate_limit(venue, lim)
        return risk

    def build_strategies(self) -> dict[str, tuple[Strategy, list[Instrument]]]:
        """``{name: (strategy, instruments)}`` of the enabled strategies, made from their
        classes and parameters (``ValueError`` naming the strategy when one cannot be)."""
        out: dict[str, tuple[Strategy, list[Instrument]]] = {}
        for name, sc in self.strategies.items():
            if not sc.enabled:
                continue
            try:
                strat = _make(sc)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"strategies.{name}: {exc}") from None
            strat.name = name
            insts = [self.instrument(k) for k in sc.instruments] or list(self.instruments)
            out[name] = (strat, insts)
        return out

    def diff(self, other: Config) -> list[tuple[str, Any, Any]]:
        """``(dotted key, old, new)`` of every value that differs from ``other`` (secrets as
        their references)."""
        a, b = _flatten(_mask(self.raw)), _flatten(_mask(other.raw))
        return [(k, a.get(k, _MISSING_TEXT), b.get(k, _MISSING_TEXT))
                for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)]

    def __repr__(self) -> str:
        return (f"Config({self.path!r}, {len(self.instruments)} instruments, "
                f"{len(self.strategies)} strategies, sinks {sorted(self.sinks)})")


_MISSING = object()
_MISSING_TEXT = None


def _make(sc: StrategyConfig) -> Strategy:
    """``sc``'s strategy: its class called with its parameters as keyword arguments."""
    import json

    from hftcore.demo import load_strategy

    return load_strategy(sc.cls, [f"{k}={json.dumps(v)}" for k, v in sc.params.items()])


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(node, dict) and node:
        for k, v in node.items():
            part = k if k.replace("_", "").replace("-", "").isalnum() else f'"{k}"'
            out.update(_flatten(v, f"{prefix}.{part}" if prefix else part))
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = node
    return out


def _ikey(inst: Instrument) -> str:
    return f"{inst.venue}:{inst.symbol}"


# -- value checks -------------------------------------------------------------------------------
def _no_floats(chk: _Check, node: Any, path: Path_) -> None:
    if isinstance(node, float):
        chk.error(path, f"{node!r} is a float, which is not exact: write decimal text "
                        f"(\"{_float_text(node)}\") or a whole number")
    elif isinstance(node, dict):
        for k, v in node.items():
            _no_floats(chk, v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _no_floats(chk, v, (*path, i))


def _float_text(x: float) -> str:
    return repr(x) if math.isfinite(x) else "..."


def _amount(chk: _Check, v: Any, path: Path_, decimals: int, *, positive: bool = True
            ) -> int | None:
    """Decimal text or a whole number of units -> raw int at ``decimals`` (exact)."""
    if isinstance(v, float):
        return None                      # reported once, by _no_floats
    if isinstance(v, bool) or not isinstance(v, int | str):
        chk.error(path, f"expected decimal text or a whole number, got {type(v).__name__}")
        return None
    text = str(v)
    try:
        raw = fixed.parse(text, decimals)
    except (ValueError, OverflowError) as exc:
        chk.error(path, f"{text!r} is not an exact amount at {decimals} decimals ({exc})")
        return None
    if raw < 0 or (positive and raw == 0):
        chk.error(path, f"must be {'positive' if positive else 'zero or more'}, got {text}")
        return None
    return raw


def _int(chk: _Check, v: Any, path: Path_, lo: int | None = 0, hi: int | None = None
         ) -> int | None:
    if isinstance(v, float):
        return None                      # reported once, by _no_floats
    if isinstance(v, bool) or not isinstance(v, int):
        chk.error(path, f"expected a whole number, got {type(v).__name__} {v!r}")
        return None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        chk.error(path, f"must be {rng}, got {v}")
        return None
    return v


def _bool(chk: _Check, v: Any, path: Path_) -> bool | None:
    if not isinstance(v, bool):
        chk.error(path, f"expected true or false, got {type(v).__name__} {v!r}")
        return None
    return v


def _str(chk: _Check, v: Any, path: Path_, nonempty: bool = True) -> str | None:
    if not isinstance(v, str) or (nonempty and not v):
        chk.error(path, f"expected {'non-empty ' if nonempty else ''}text, got {v!r}")
        return None
    return v


def _table(chk: _Check, v: Any, path: Path_) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        chk.error(path, f"expected a table, got {type(v).__name__}")
        return {}
    return v


def _unknown(chk: _Check, table: Mapping[str, Any], path: Path_, known: Any) -> None:
    for k in table:
        if k not in known:
            chk.error((*path, k), f"unknown key; expected one of {sorted(known)}")


# -- sections -----------------------------------------------------------------------------------
_INST_KEYS = {"venue", "symbol", "price_decimals", "size_decimals", "tick", "lot", "base",
              "quote", "min_size", "max_size", "min_notional"}


def _instruments(chk: _Check, node: Any) -> list[Instrument]:
    out: list[Instrument] = []
    if node is None:
        chk.error(("instruments",), "at least one [[instruments]] table is needed")
        return out
    if not isinstance(node, list):
        chk.error(("instruments",), "expected [[instruments]] tables")
        return out
    seen: set[str] = set()
    for i, t in enumerate(node):
        p: Path_ = ("instruments", i)
        if not isinstance(t, dict):
            chk.error(p, "expected a table")
            continue
        _unknown(chk, t, p, _INST_KEYS)
        venue = _str(chk, t.get("venue"), (*p, "venue"))
        symbol = _str(chk, t.get("symbol"), (*p, "symbol"))
        pdec = _int(chk, t.get("price_decimals"), (*p, "price_decimals"), 0, 18)
        sdec = _int(chk, t.get("size_decimals"), (*p, "size_decimals"), 0, 18)
        if None in (venue, symbol, pdec, sdec):
            continue
        assert venue is not None and symbol is not None and pdec is not None \
            and sdec is not None
        kw: dict[str, Any] = {}
        for k, dec in (("tick", pdec), ("min_notional", pdec)):
            if k in t:
                kw[k] = _amount(chk, t[k], (*p, k), dec, positive=(k == "tick"))
        for k in ("lot", "min_size", "max_size"):
            if k in t:
                kw[k] = _amount(chk, t[k], (*p, k), sdec, positive=(k != "min_size"))
        for k in ("base", "quote"):
            if k in t:
                kw[k] = _str(chk, t[k], (*p, k), nonempty=False)
        if any(v is None for v in kw.values()):
            continue
        key = f"{venue}:{symbol}"
        if key in seen:
            chk.error((*p, "symbol"), f"{key} is given twice")
            continue
        seen.add(key)
        try:
            out.append(Instrument(venue, symbol, pdec, sdec, **kw))
        except (TypeError, ValueError) as exc:
            chk.error(p, str(exc))
    return out


_GLOBAL_AMOUNTS = ("max_gross_exposure", "max_net_exposure", "max_daily_loss")
_GLOBAL_INTS = ("max_open_orders", "max_errors", "error_window_ns", "error_cooldown_ns")
_INST_SIZES = ("min_size", "max_size", "max_position")
_INST_NOTIONALS = ("min_notional", "max_notional")
_INST_INTS = ("band_ticks", "band_bps", "max_open_orders")


def _risk(chk: _Check, node: Any, insts: list[Instrument]
          ) -> tuple[int, RiskLimits, dict[str, InstrumentLimits], dict[str, VenueRateLimit]]:
    t = _table(chk, node, ("risk",))
    _unknown(chk, t, ("risk",), {"notional_decimals", "global", "instruments", "rate_limits"})
    nd = _int(chk, t.get("notional_decimals", 8), ("risk", "notional_decimals"), 0, 18)
    nd = 8 if nd is None else nd
    g = _table(chk, t.get("global"), ("risk", "global"))
    _unknown(chk, g, ("risk", "global"), set(_GLOBAL_AMOUNTS) | set(_GLOBAL_INTS))
    gk: dict[str, Any] = {}
    for k in _GLOBAL_AMOUNTS:
        if k in g:
            gk[k] = _amount(chk, g[k], ("risk", "global", k), nd)
    for k in _GLOBAL_INTS:
        if k in g:
            gk[k] = _int(chk, g[k], ("risk", "global", k), 1)
    glob = RiskLimits(**{k: v for k, v in gk.items() if v is not None})
    by_key = {_ikey(i): i for i in insts}
    limits: dict[str, InstrumentLimits] = {}
    it = _table(chk, t.get("instruments"), ("risk", "instruments"))
    known = set(_INST_SIZES) | set(_INST_NOTIONALS) | set(_INST_INTS) | {"self_trade_prevention"}
    for key, lim in it.items():
        p: Path_ = ("risk", "instruments", key)
        inst = by_key.get(key)
        if inst is None:
            chk.error(p, f"no instrument {key!r} among [[instruments]] (\"venue:symbol\")")
            continue
        lt = _table(chk, lim, p)
        _unknown(chk, lt, p, known)
        kw: dict[str, Any] = {}
        for k in _INST_SIZES:
            if k in lt:
                kw[k] = _amount(chk, lt[k], (*p, k), inst.size_decimals, positive=k != "min_size")
        for k in _INST_NOTIONALS:
            if k in lt:
                kw[k] = _amount(chk, lt[k], (*p, k), nd, positive=k != "min_notional")
        for k in _INST_INTS:
            if k in lt:
                kw[k] = _int(chk, lt[k], (*p, k), 0 if k != "max_open_orders" else 1)
        if "self_trade_prevention" in lt:
            kw["self_trade_prevention"] = _bool(chk, lt["self_trade_prevention"],
                                                (*p, "self_trade_prevention"))
        if any(v is None for v in kw.values()):
            continue
        bad = False
        for lo, hi in (("min_size", "max_size"), ("min_notional", "max_notional")):
            if kw.get(lo) is not None and kw.get(hi) is not None and kw[lo] > kw[hi]:
                chk.error((*p, lo), f"{lt[lo]} is above {hi} {lt[hi]}")
                bad = True
        if bad:
            continue
        # the risk engine's own checks (e.g. min above max), against a scratch engine
        try:
            scratch = RiskEngine(nd)
            scratch.add_instrument(inst, InstrumentLimits(**kw))
        except (TypeError, ValueError, OverflowError) as exc:
            chk.error(p, str(exc))
            continue
        limits[key] = InstrumentLimits(**kw)
    rates: dict[str, VenueRateLimit] = {}
    rt = _table(chk, t.get("rate_limits"), ("risk", "rate_limits"))
    rknown = {f.name for f in fields(VenueRateLimit)}
    for venue, rl in rt.items():
        p = ("risk", "rate_limits", venue)
        r = _table(chk, rl, p)
        _unknown(chk, r, p, rknown)
        vals = {k: _int(chk, v, (*p, k), 0) for k, v in r.items() if k in rknown}
        good = {k: v for k, v in vals.items() if v is not None}
        if len(good) == len(vals):
            rates[venue] = VenueRateLimit(**good)
    try:
        RiskEngine(nd, glob)
    except (TypeError, ValueError, OverflowError) as exc:
        chk.error(("risk", "global"), str(exc))
    return nd, glob, limits, rates


def _check_params(chk: _Check, node: Any, path: Path_) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _check_params(chk, v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_params(chk, v, (*path, i))
    elif not isinstance(node, bool | int | str) and not isinstance(node, Secret):
        chk.error(path, f"a strategy parameter is text, a whole number, true/false, an array "
                        f"or a table; got {type(node).__name__}")


def _strategies(chk: _Check, node: Any, insts: list[Instrument]) -> dict[str, StrategyConfig]:
    out: dict[str, StrategyConfig] = {}
    keys = {_ikey(i) for i in insts}
    for name, st in _table(chk, node, ("strategies",)).items():
        p: Path_ = ("strategies", name)
        t = _table(chk, st, p)
        _unknown(chk, t, p, {"class", "instruments", "params", "enabled"})
        cls = _str(chk, t.get("class"), (*p, "class"))
        if cls is not None and ":" not in cls:
            chk.error((*p, "class"), f"expected module:Class or path/to/file.py:Class, got "
                                     f"{cls!r}")
            cls = None
        il = t.get("instruments", [])
        names: list[str] = []
        if not isinstance(il, list) or not all(isinstance(x, str) for x in il):
            chk.error((*p, "instruments"), 'expected an array of "venue:symbol" text')
        else:
            for i, k in enumerate(il):
                if k not in keys:
                    chk.error((*p, "instruments", i), f"no instrument {k!r} among "
                                                      "[[instruments]]")
                names.append(k)
        params = _table(chk, t.get("params"), (*p, "params"))
        _check_params(chk, params, (*p, "params"))
        enabled = _bool(chk, t.get("enabled", True), (*p, "enabled"))
        if cls is not None:
            out[name] = StrategyConfig(name, cls, tuple(names), dict(params), bool(enabled))
    return out


_PG_KEYS = {f.name for f in fields(PostgresSinkConfig)}
_PQ_KEYS = {f.name for f in fields(ParquetSinkConfig)}


def _sinks(chk: _Check, node: Any) -> dict[str, Any]:
    t = _table(chk, node, ("sinks",))
    out: dict[str, Any] = {}
    for name, sub in t.items():
        p: Path_ = ("sinks", name)
        s = _table(chk, sub, p)
        if name == "postgres":
            _unknown(chk, s, p, _PG_KEYS)
            dsn = s.get("dsn")
            if dsn is not None and not isinstance(dsn, Secret | str):
                chk.error((*p, "dsn"), "expected text or { env = ... } / { file = ... }")
                continue
            kw: dict[str, Any] = {}
            for f in fields(PostgresSinkConfig):
                if f.name == "dsn" or f.name not in s:
                    continue
                v = s[f.name]
                if f.type == "bool":
                    kw[f.name] = _bool(chk, v, (*p, f.name))
                elif f.type == "int":
                    kw[f.name] = _int(chk, v, (*p, f.name), 0 if "sample" in f.name else 1)
                else:
                    kw[f.name] = _str(chk, v, (*p, f.name))
            if any(v is None for v in kw.values()):
                continue
            if "schema" in kw:
                from hftcore.sink.schema import check_schema_name

                try:
                    check_schema_name(kw["schema"])
                except ValueError as exc:
                    chk.error((*p, "schema"), str(exc))
                    continue
            secret = dsn if isinstance(dsn, Secret) else (
                _PlainSecret(dsn) if isinstance(dsn, str) else None)
            out[name] = PostgresSinkConfig(secret, **kw)
        elif name == "parquet":
            _unknown(chk, s, p, _PQ_KEYS)
            d = _str(chk, s.get("dir"), (*p, "dir"))
            kw = {k: _bool(chk, s[k], (*p, k)) for k in ("enabled", "fills", "equity", "events")
                  if k in s}
            if d is not None and all(v is not None for v in kw.values()):
                out[name] = ParquetSinkConfig(d, **kw)
        else:
            out[name] = dict(s)          # another sink's settings, read by its module
    return out


class _PlainSecret(Secret):
    """A DSN without a password written in the file (nothing secret in it)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        super().__init__("env", "(in the file)")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def problem(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "Secret(in the file, no password)"


def _venues(chk: _Check, node: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, sub in _table(chk, node, ("venues",)).items():
        out[name] = _table(chk, sub, ("venues", name))
    return out


def _dashboard(chk: _Check, node: Any) -> dict[str, Any]:
    t = _table(chk, node, ("dashboard",))
    if "port" in t:
        _int(chk, t["port"], ("dashboard", "port"), 0, 65535)
    if "host" in t:
        _str(chk, t["host"], ("dashboard", "host"))
    if "enabled" in t:
        _bool(chk, t["enabled"], ("dashboard", "enabled"))
    return dict(t)


def parse_config(text: str, path: str = "<config>",
                 base: str | os.PathLike[str] | None = None, *,
                 check_secrets: bool = True) -> Config:
    """Validate a configuration's TOML text; raises :class:`ConfigError` listing every error.

    ``base``: the folder relative secret files are in; ``check_secrets``: every secret must be
    readable now (its variable set, its file there and not empty).
    """
    check_text(text, "text")
    check_text(path, "path")
    check_path(base, "base", optional=True)
    check_bool(check_secrets, "check_secrets")
    folder = Path(base) if base is not None else Path(".")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = 0
        if "line " in msg:
            with contextlib.suppress(ValueError):
                line = int(msg.split("line ", 1)[1].split(",")[0].split(")")[0])
        raise ConfigError(path, [(line, "(syntax)", msg)]) from None
    chk = _Check(path, key_lines(text))
    for k in raw:
        if k not in _SECTIONS:
            chk.error((k,), f"unknown section; expected one of {sorted(_SECTIONS)}")
    resolved = _resolve_secrets(chk, raw, (), folder, check_secrets)
    for sec in ("engine", "instruments", "risk", "strategies", "sinks", "dashboard"):
        _no_floats(chk, raw.get(sec), (sec,))
    eng = _table(chk, resolved.get("engine"), ("engine",))
    _unknown(chk, eng, ("engine",), {"mode", "equity_interval_ns", "fees", "journal",
                                    "book_depth"})
    mode = eng.get("mode", "backtest")
    if mode not in _MODES:
        chk.error(("engine", "mode"), f"must be one of {list(_MODES)}, got {mode!r}")
    if "equity_interval_ns" in eng:
        _int(chk, eng["equity_interval_ns"], ("engine", "equity_interval_ns"), 1)
    if "fees" in eng:
        fees = _table(chk, eng["fees"], ("engine", "fees"))
        _unknown(chk, fees, ("engine", "fees"), {"maker", "taker"})
        for k in ("maker", "taker"):
            v = fees.get(k, "0")
            if not isinstance(v, str):
                chk.error(("engine", "fees", k), "a fee rate is decimal text (\"0.0002\")")
                continue
            try:
                Decimal(v)
                fixed.parse(v, 8)
            except (InvalidOperation, ValueError, OverflowError) as exc:
                chk.error(("engine", "fees", k), f"{v!r} is not a rate at 8 decimals ({exc})")
    insts = _instruments(chk, resolved.get("instruments"))
    nd, glob, limits, rates = _risk(chk, resolved.get("risk"), insts)
    strategies = _strategies(chk, resolved.get("strategies"), insts)
    sinks = _sinks(chk, resolved.get("sinks"))
    venues = _venues(chk, resolved.get("venues"))
    dash = _dashboard(chk, resolved.get("dashboard"))
    chk.raise_if_any()
    return Config(path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), raw=resolved,
                  mode=str(mode), instruments=tuple(insts), notional_decimals=nd,
                  global_limits=glob, instrument_limits=limits, rate_limits=rates,
                  strategies=strategies, venues=venues, sinks=sinks, dashboard=dash,
                  engine=dict(eng))


def load_config(path: str | os.PathLike[str], *, check_secrets: bool = True) -> Config:
    """Read and validate a configuration file (``ConfigError`` names each bad key and line;
    ``OSError`` when the file cannot be read).  See :func:`parse_config`."""
    check_path(path, "path")
    check_bool(check_secrets, "check_secrets")
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    return parse_config(text, str(p), p.resolve().parent, check_secrets=check_secrets)


# -- hot reload ---------------------------------------------------------------------------------
@dataclass
class ReloadResult:
    """What one reload did: ``result`` is ``"applied"``, ``"unchanged"``, ``"rejected"`` (the
    file did not validate) or ``"failed"`` (applying it failed; everything was rolled back).
    ``changes`` are ``(key, old, new)``; ``restart_required`` the keys only a restart applies."""

    result: str
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sha256: str = ""
    restart_changes: list[tuple[str, Any, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The journal's record of this reload (without its time)."""
        return {"result": self.result, "sha256": self.sha256,
                "changes": [{"key": k, "old": o, "new": n} for k, o, n in self.changes],
                "restart_required": [{"key": k, "old": o, "new": n}
                                     for k, o, n in self.restart_changes],
                "errors": self.errors}


def _reloadable(key: str) -> bool:
    return key.startswith("risk.global.") or key.startswith("risk.instruments.") or (
        key.startswith("strategies.") and ".params." in key)


class LiveConfig:
    """A configuration that reloads while trading.

    Parameters
    ----------
    path : path
        The configuration file (validated now: ``ConfigError`` if it does not).
    engine : Engine, optional
        Changes are applied by this engine between two event batches (an engine observer);
        without one, :meth:`reload` applies them at once.
    strategies : dict, optional
        ``{name: strategy}`` whose parameters ``[strategies.NAME.params]`` change (default: the
        engine's strategies by name).
    journal : path, optional
        JSON-lines journal of every reload: time, file hash, result and diff.
    on_reload : callable, optional
        Called with each :class:`ReloadResult` (from the thread that applied or refused it).

    Notes
    -----
    Risk limits are applied through the engine's :class:`RiskEngine` (all instruments and the
    book-wide limits together; if one is refused the ones already set are put back).  Strategy
    parameters are applied by calling ``strategy.on_config(changes)`` when the strategy has such
    a method, else by setting the attributes of the same name - each must exist and keep its type
    (int stays int, text stays text); a strategy's ``on_config`` that raises rolls back too.
    """

    def __init__(self, path: str | os.PathLike[str], engine: Engine | None = None, *,
                 strategies: Mapping[str, Any] | None = None,
                 journal: str | os.PathLike[str] | None = None,
                 on_reload: Callable[[ReloadResult], None] | None = None) -> None:
        from hftcore.engine import Engine

        check_path(path, "path")
        if engine is not None and not isinstance(engine, Engine):
            raise TypeError(f"engine must be an hftcore.Engine or None, got "
                            f"{type(engine).__name__}")
        if strategies is not None and not isinstance(strategies, Mapping):
            raise TypeError(f"strategies must be a mapping {{name: strategy}} or None, got "
                            f"{type(strategies).__name__}")
        check_path(journal, "journal", optional=True)
        check_callable(on_reload, "on_reload")
        self.path = Path(path)
        self.config = load_config(self.path)
        self.engine = engine
        self._strategies = dict(strategies) if strategies is not None else None
        self.journal = Path(journal) if journal is not None else None
        self.on_reload = on_reload
        self._lock = threading.Lock()
        self._pending: tuple[Config, ReloadResult] | None = None
        self._stamp = self._file_stamp()
        self._requested = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.results: list[ReloadResult] = []
        if engine is not None:
            engine.add_observer(self)

    # -- reading the file -------------------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int]:
        try:
            st = self.path.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _strategy_objects(self) -> dict[str, Any]:
        if self._strategies is not None:
            return self._strategies
        if self.engine is None:
            return {}
        return {st.strategy.name: st.strategy for st in self.engine._strategies}

    def check(self) -> ReloadResult | None:
        """Read and validate the file now (off the engine's thread is fine).  A valid change is
        staged for the engine (or applied, without one); an invalid file is reported and
        journaled, and changes nothing.  Returns the result, or None when nothing is staged or
        the file's content is the same."""
        try:
            new = load_config(self.path)
        except (ConfigError, OSError) as exc:
            errors = (str(exc).splitlines() if isinstance(exc, ConfigError)
                      else [f"{self.path}: {exc}"])
            res = ReloadResult("rejected", errors=errors)
            log.error("config reload refused, nothing changed:\n%s", "\n".join(errors))
            self._report(res)
            return res
        with self._lock:
            base = self._pending[0] if self._pending is not None else self.config
        if new.sha256 == base.sha256:
            return None
        diff = self.config.diff(new)
        changes = [d for d in diff if _reloadable(d[0])]
        later = [d for d in diff if not _reloadable(d[0])]
        restart = [d[0] for d in later]
        problems = self._precheck(new, changes)
        if problems:
            res = ReloadResult("rejected", errors=problems, sha256=new.sha256)
            log.error("config reload refused, nothing changed:\n%s", "\n".join(problems))
            self._report(res)
            return res
        res = ReloadResult("applied" if changes else "unchanged", changes, restart,
                           sha256=new.sha256, restart_changes=later)
        if self.engine is None:
            return self._apply(new, res)
        with self._lock:
            self._pending = (new, res)
        return res

    def _precheck(self, new: Config, changes: list[tuple[str, Any, Any]]) -> list[str]:
        """Problems only the running objects can see (a strategy or attribute that does not
        exist, a parameter changing type)."""
        out = []
        strats = self._strategy_objects()
        for name, params in self._param_changes(new, changes).items():
            s = strats.get(name)
            if s is None:
                out.append(f"strategies.{name}: no running strategy of that name")
                continue
            if callable(getattr(s, "on_config", None)):
                continue
            for k, v in params.items():
                if not hasattr(s, k):
                    out.append(f"strategies.{name}.params.{k}: {type(s).__name__} has no "
                               f"attribute {k!r} (give it an on_config(changes) method)")
                elif type(getattr(s, k)) is not type(v):
                    out.append(f"strategies.{name}.params.{k}: {type(v).__name__} where the "
                               f"strategy has {type(getattr(s, k)).__name__}")
        risk = self.engine.risk if self.engine is not None else None
        if risk is not None:
            for key in new.instrument_limits:
                try:
                    risk.index(new.instrument(key))
                except KeyError:
                    out.append(f"risk.instruments.{key}: not registered with the running "
                               "risk engine")
        return out

    @staticmethod
    def _param_changes(new: Config, changes: list[tuple[str, Any, Any]]
                       ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, _, _ in changes:
            if not key.startswith("strategies."):
                continue
            for name, sc in new.strategies.items():
                prefix = f"strategies.{_flat_part(name)}.params."
                if key.startswith(prefix):
                    top = key[len(prefix):].split(".")[0].split("[")[0].strip('"')
                    out.setdefault(name, {})[top] = sc.params.get(top)
        return out

    # -- applying ---------------------------------------------------------------------------
    def __call__(self, engine: Engine, events: Any) -> None:
        """The engine observer: apply a staged reload between two batches."""
        if self._requested:
            self._requested = False
            self.check()
        if self._pending is not None:
            self.apply_pending()

    def apply_pending(self) -> ReloadResult | None:
        """Apply the staged reload now (the engine calls this between two batches)."""
        with self._lock:
            staged, self._pending = self._pending, None
        if staged is None:
            return None
        return self._apply(*staged)

    def reload(self) -> ReloadResult | None:
        """Read, validate and apply now (call it on the engine's thread, between events)."""
        res = self.check()
        if self.engine is not None:
            done = self.apply_pending()
            return done if done is not None else res
        return res

    def _apply(self, new: Config, res: ReloadResult) -> ReloadResult:
        try:
            self._apply_risk(new)
            try:
                self._apply_params(new, res.changes)
            except BaseException:
                self._apply_risk(self.config)    # roll the limits back too
                raise
        except Exception as exc:
            fail = ReloadResult("failed", res.changes, res.restart_required,
                                [f"{type(exc).__name__}: {exc}"], new.sha256,
                                res.restart_changes)
            log.error("config reload failed and was rolled back: %s", exc)
            self._report(fail)
            return fail
        self.config = new
        if res.changes:
            log.info("config reloaded (%s): %s", new.sha256[:12],
                     "; ".join(f"{k}: {o!r} -> {n!r}" for k, o, n in res.changes))
        if res.restart_required:
            log.warning("config: these changes take effect at the next start only: %s",
                        ", ".join(res.restart_required))
        self._report(res)
        return res

    def _apply_risk(self, new: Config) -> None:
        if self.engine is None:
            return
        risk = self.engine.risk
        old_global = risk.global_limits
        done: list[tuple[Instrument, InstrumentLimits]] = []
        try:
            if new.global_limits != old_global:
                risk.set_global_limits(new.global_limits)
            for inst in new.instruments:
                want = new.instrument_limits.get(_ikey(inst), InstrumentLimits())
                try:
                    have = risk.limits(inst)
                except KeyError:
                    continue
                if have != want:
                    risk.add_instrument(inst, want)
                    done.append((inst, have))
        except BaseException:
            for inst, lim in reversed(done):
                risk.add_instrument(inst, lim)
            risk.set_global_limits(old_global)
            raise
        finally:
            self.engine.limits_changed()

    def _apply_params(self, new: Config, changes: list[tuple[str, Any, Any]]) -> None:
        strats = self._strategy_objects()
        undo: list[tuple[Any, str, Any]] = []
        try:
            for name, params in self._param_changes(new, changes).items():
                s = strats[name]
                hook = getattr(s, "on_config", None)
                if callable(hook):
                    hook(dict(params))
                    continue
                for k, v in params.items():
                    undo.append((s, k, getattr(s, k)))
                    setattr(s, k, v)
        except BaseException:
            for s, k, v in reversed(undo):
                setattr(s, k, v)
            raise

    def _report(self, res: ReloadResult) -> None:
        self.results.append(res)
        if self.journal is not None:
            rec = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
                   "ts_ns": time.time_ns(), "file": str(self.path),
                   "previous_sha256": self.config.sha256, **res.to_json()}
            try:
                with open(self.journal, "ab") as fh:
                    fh.write(orjson.dumps(rec, default=str) + b"\n")
            except OSError as exc:
                log.error("config journal %s: %s", self.journal, exc)
        if self.on_reload is not None:
            try:
                self.on_reload(res)
            except Exception:
                log.exception("on_reload raised")

    # -- triggers -----------------------------------------------------------------------------
    def watch(self, interval: float = 1.0) -> None:
        """Check the file every ``interval`` seconds in a background thread and stage each
        change (the engine applies it between two batches)."""
        check_positive_seconds(interval, "interval")
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval):
                stamp = self._file_stamp()
                if stamp != self._stamp or self._requested:
                    self._stamp = stamp
                    self._requested = False
                    try:
                        self.check()
                    except Exception:
                        log.exception("config watcher")

        self._thread = threading.Thread(target=run, name="hftcore-config-watch", daemon=True)
        self._thread.start()

    def install_signal(self, signum: int = getattr(signal, "SIGHUP", 1)) -> None:
        """Reload on a signal (SIGHUP by default): the handler only sets a flag; the watcher
        thread or the engine's next batch does the work."""
        if isinstance(signum, bool) or not isinstance(signum, int):
            raise TypeError(f"signum must be an int (a signal number), got "
                            f"{type(signum).__name__}")

        def handler(sig: int, frame: FrameType | None) -> None:
            self._requested = True

        signal.signal(signum, handler)

    def stop(self) -> None:
        """Stop the watcher thread and leave the engine."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self.engine is not None:
            with contextlib.suppress(ValueError):
                self.engine.remove_observer(self)

    def __iter__(self) -> Iterator[ReloadResult]:
        return iter(self.results)


def _flat_part(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else f'"{k}"'

