"""Exact fixed-point numbers: decimal text <-> int counts at a number of decimals (0-18).

``parse("50000.10", 2) == 5000010``; ``format(5000010, 2) == "50000.10"``.  Never via float.
See :mod:`hftcore._ext.fixed` for the compiled implementation.
"""

from __future__ import annotations

from hftcore._ext.fixed import (
    ROUNDING_MODES,
    add,
    div,
    format,
    format_digits,
    mul,
    parse,
    parse_many,
    rescale,
    rounding_code,
    sub,
)

__all__ = [
    "ROUNDING_MODES",
    "add",
    "div",
    "format",
    "format_digits",
    "mul",
    "parse",
    "parse_many",
    "rescale",
    "rounding_code",
    "sub",
]
