"""The dashboard's controls: kill switch, resume, risk limit changes; and their journal.

Every control is validated completely before anything changes, written to the control journal
(``"control"``), applied, and its outcome written too (``"control_done"`` or
``"control_failed"``); a request the server refuses (no token, bad parameters) is written as
``"control_refused"``.  The control journal is a separate JSON-lines file: the order
manager's binary journal has a fixed set of order record types, and the orders a kill switch
cancels are journaled there as ordinary ``cancel`` records anyway.  No token or other secret
is ever written.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from hftcore import fixed
from hftcore.model import Instrument, OrderStatus
from hftcore.risk import InstrumentLimits, RiskLimits, TradingState

from .snapshot import instrument_id, limit_decimals

if TYPE_CHECKING:
    from hftcore.engine import Engine

__all__ = ["ACTIONS", "ControlError", "ControlJournal", "Controls", "cancel_everything",
           "default_journal_path", "engage_kill_switch"]

#: the control actions, as named in the protocol
ACTIONS = ("kill", "resume", "set_limit")
_INSTRUMENT_LIMITS = frozenset(f.name for f in fields(InstrumentLimits))
_GLOBAL_LIMITS = frozenset(f.name for f in fields(RiskLimits))
# RiskLimits fields that must stay ints (no "off")
_REQUIRED = frozenset(("error_window_ns", "error_cooldown_ns"))


class ControlError(ValueError):
    """A control request refused: unknown action, bad parameters, or not allowed."""


def default_journal_path(engine: Engine) -> Path:
    """Where controls are journaled by default: beside the order manager's journal
    (``<journal>.controls.jsonl``) when it keeps one, else ``hftcore-controls.jsonl`` in the
    current directory."""
    journal = engine.om.journal
    if journal is not None:
        return Path(f"{journal}.controls.jsonl")
    return Path.cwd() / "hftcore-controls.jsonl"


class ControlJournal:
    """An append-only JSON-lines file; each line is on the device (fsync) before the control
    it describes runs.

    Parameters
    ----------
    path : path
        Created if absent, appended to otherwise.
    fsync : bool
        Sync each line to the device (default; controls are rare).
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fsync = fsync
        self._lock = threading.Lock()
        self.seq = 0

    def write(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Append ``entry`` with ``seq`` and ``wall_ns`` added; returns what was written."""
        with self._lock:
            if self._fd < 0:
                raise ValueError(f"control journal {self.path} is closed")
            self.seq += 1
            rec = {"seq": self.seq, "wall_ns": time.time_ns(), **entry}
            data = orjson.dumps(rec, default=str) + b"\n"
            os.write(self._fd, data)
            if self._fsync:
                os.fsync(self._fd)
            return rec

    @staticmethod
    def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
        """Every entry of a control journal (a torn last line is left out)."""
        out = []
        for line in Path(path).read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        return out

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __repr__(self) -> str:
        return f"ControlJournal({str(self.path)!r}, entries written={self.seq})"


def cancel_everything(engine: Engine) -> int:
    """Ask for every open order of every strategy to be canceled and their quotes dropped;
    returns the cancels requested.  Orders already waiting for a cancel are left alone."""
    n = 0
    for st in list(engine._strategies):
        n += engine.cancel_all(st.strategy)
    return n


def engage_kill_switch(engine: Engine) -> dict[str, Any]:
    """Halt trading (the risk engine's kill switch: every new order is refused) and cancel
    every open order.  Returns what was done."""
    open_before = len(engine.om.open_orders())
    engine.risk.kill()
    cancels = cancel_everything(engine)
    return {"state": engine.risk.state.name, "killed": engine.risk.killed,
            "open_orders": open_before, "cancels_requested": cancels}


def _parse_limit(name: str, value: object, decimals: int) -> int | bool | None:
    """A limit value from the protocol: decimal text (or an int) in display units, ``None``
    (or "none"/"off") to turn the limit off, a bool for ``self_trade_prevention``."""
    if name == "self_trade_prevention":
        if not isinstance(value, bool):
            raise ControlError(f"value: {name} takes true or false, got {value!r}")
        return value
    if isinstance(value, (bool, float)):
        raise ControlError(f"value: {name} takes decimal text or an int, not "
                           f"{type(value).__name__} {value!r}")
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off",
                                                                               "")):
        if name in _REQUIRED:
            raise ControlError(f"value: {name} cannot be turned off")
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ControlError(f"value: {name} takes decimal text, got {type(value).__name__}")
    try:
        raw = fixed.parse(value.strip(), decimals)
    except ValueError as exc:
        raise ControlError(f"value: {value!r} is not a number with at most {decimals} "
                           f"decimals ({exc})") from None
    if raw < 0:
        raise ControlError(f"value: {name} must not be negative, got {value!r}")
    return raw


class Controls:
    """The actions the dashboard offers, on one engine, journaled.

    Parameters
    ----------
    engine : Engine
        The engine to act on (call from the thread / event loop it runs on).
    journal : ControlJournal
        Where requests and outcomes are written.
    on_applied : callable, optional
        Called with each journaled outcome (the dashboard shows them).
    """

    def __init__(self, engine: Engine, journal: ControlJournal,
                 on_applied: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.engine = engine
        self.journal = journal
        self.on_applied = on_applied
        self._by_id = {instrument_id(i): i for i in engine.instruments}

    # -- validation: a refused request changes nothing ----------------------------------------
    def prepare(self, action: object, params: object) -> Callable[[], dict[str, Any]]:
        """Check ``action`` and ``params`` completely; returns the change, not yet applied."""
        if action not in ACTIONS:
            raise ControlError(f"action: unknown control {action!r}; one of {list(ACTIONS)}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise ControlError("params: an object is expected")
        if action == "kill":
            if params:
                raise ControlError(f"params: kill takes none, got {sorted(params)}")
            return lambda: engage_kill_switch(self.engine)
        if action == "resume":
            extra = set(params) - {"state"}
            if extra:
                raise ControlError(f"params: resume takes only 'state', got {sorted(extra)}")
            name = params.get("state", "ACTIVE")
            if name not in ("ACTIVE", "REDUCING"):
                raise ControlError(f"state: resume to ACTIVE or REDUCING, got {name!r}")
            state = TradingState[name]
            return lambda: self._resume(state)
        return self._prepare_limit(params)

    def _prepare_limit(self, params: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        extra = set(params) - {"scope", "name", "value"}
        if extra or "scope" not in params or "name" not in params or "value" not in params:
            raise ControlError("params: set_limit takes scope, name and value")
        scope, name, value = params["scope"], params["name"], params["value"]
        risk = self.engine.risk
        nd = risk.notional_decimals
        if scope == "global":
            if name not in _GLOBAL_LIMITS:
                raise ControlError(f"name: {name!r} is not a global limit; one of "
                                   f"{sorted(_GLOBAL_LIMITS)}")
            raw = _parse_limit(name, value, limit_decimals(name, None, nd))
            old = getattr(risk.global_limits, name)

            def apply_global() -> dict[str, Any]:
                try:
                    risk.set_global_limits(None, **{name: raw})
                except (TypeError, ValueError, OverflowError) as exc:
                    raise ControlError(f"value: {exc}") from None
                return self._limit_result("global", name, old, raw, None)

            return apply_global
        inst = self._by_id.get(scope) if isinstance(scope, str) else None
        if inst is None:
            raise ControlError(f"scope: 'global' or an instrument id (venue:symbol), got "
                               f"{scope!r}")
        if name not in _INSTRUMENT_LIMITS:
            raise ControlError(f"name: {name!r} is not an instrument limit; one of "
                               f"{sorted(_INSTRUMENT_LIMITS)}")
        raw = _parse_limit(name, value, limit_decimals(name, inst, nd))
        old = getattr(risk.limits(inst), name)

        def apply_instrument() -> dict[str, Any]:
            try:
                risk.set_limits(inst, **{name: raw})
            except (TypeError, ValueError, OverflowError) as exc:
                raise ControlError(f"value: {exc}") from None
            return self._limit_result(scope, name, old, raw, inst)

        return apply_instrument

    def _limit_result(self, scope: str, name: str, old: Any, new: Any,
                      inst: Instrument | None) -> dict[str, Any]:
        dec = limit_decimals(name, inst, self.engine.risk.notional_decimals)

        def text(v: Any) -> Any:
            return v if v is None or isinstance(v, bool) else fixed.format(v, dec, True)

        return {"scope": scope, "name": name, "old": text(old), "new": text(new)}

    def _resume(self, state: TradingState) -> dict[str, Any]:
        risk = self.engine.risk
        was = {"state": risk.state.name, "killed": risk.killed}
        risk.reset_kill(state)
        return {"state": risk.state.name, "killed": risk.killed, "was": was}

    # -- running --------------------------------------------------------------------------------
    def run(self, action: object, params: object = None,
            by: str = "") -> dict[str, Any]:
        """Validate, journal, apply and journal the outcome of one control; returns the
        outcome entry.  Raises :class:`ControlError` (journaled as refused) when invalid."""
        try:
            change = self.prepare(action, params)
        except ControlError as exc:
            self.refuse(action, by, str(exc), params)
            raise
        req = self.journal.write({"event": "control", "action": action, "params": params or {},
                                  "by": by, "engine_ns": self.engine.now})
        try:
            result = change()
        except Exception as exc:
            out = self.journal.write({"event": "control_failed", "request": req["seq"],
                                      "action": action, "error": str(exc), "by": by,
                                      "engine_ns": self.engine.now})
            self._applied(out)
            raise
        out = self.journal.write({"event": "control_done", "request": req["seq"],
                                  "action": action, "result": result, "by": by,
                                  "engine_ns": self.engine.now})
        self._applied(out)
        return out

    def refuse(self, action: object, by: str, why: str, params: object = None) -> dict[str, Any]:
        """Journal a refused request (never with its token)."""
        entry = {"event": "control_refused", "action": str(action)[:40], "error": why,
                 "by": by, "engine_ns": self.engine.now}
        if isinstance(params, dict):
            entry["params"] = {str(k)[:40]: v for k, v in params.items() if k != "token"}
        out = self.journal.write(entry)
        self._applied(out)
        return out

    def _applied(self, entry: dict[str, Any]) -> None:
        if self.on_applied is not None:
            self.on_applied(entry)

    def sweep(self) -> int:
        """While the kill switch is engaged: cancel any order still open and not already
        being canceled (an order acknowledged after the kill, a cancel refused by a rate
        limit).  Returns the cancels requested."""
        if not self.engine.risk.killed:
            return 0
        if all(o.status == OrderStatus.PENDING_CANCEL for o in self.engine.om.open_orders()):
            return 0
        return cancel_everything(self.engine)
