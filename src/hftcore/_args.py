"""Argument checks shared by the public entry points of the sink, the configuration and the
archives: each names the parameter, and runs before the call changes anything."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["check_bool", "check_callable", "check_path", "check_positive_int",
           "check_positive_seconds", "check_text"]


def _type(v: object) -> str:
    return type(v).__name__


def check_path(v: object, name: str, *, optional: bool = False) -> None:
    """``v`` must be a ``str`` or an ``os.PathLike`` (or None when ``optional``)."""
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, str | os.PathLike) or v == "":
        want = "a path (str or os.PathLike)" + (" or None" if optional else "")
        raise TypeError(f"{name} must be {want}, got {_type(v)} {v!r}")


def check_bool(v: object, name: str) -> None:
    """``v`` must be a ``bool`` (not an int standing for one)."""
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool, got {_type(v)} {v!r}")


def check_text(v: object, name: str, *, empty: bool = True) -> None:
    """``v`` must be a ``str`` (non-empty unless ``empty``)."""
    if not isinstance(v, str):
        raise TypeError(f"{name} must be a str, got {_type(v)} {v!r}")
    if not empty and not v:
        raise ValueError(f"{name} must not be empty")


def check_positive_int(v: object, name: str) -> None:
    """``v`` must be an ``int`` > 0 (not a bool)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{name} must be an int, got {_type(v)} {v!r}")
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")


def check_positive_seconds(v: object, name: str) -> None:
    """``v`` must be a number of seconds > 0 (an int or a float, not a bool)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {_type(v)} {v!r}")
    if not v > 0 or v == float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {v!r}")


def check_callable(v: Any, name: str) -> None:
    """``v`` must be callable or None."""
    if v is not None and not callable(v):
        raise TypeError(f"{name} must be callable or None, got {_type(v)} {v!r}")

