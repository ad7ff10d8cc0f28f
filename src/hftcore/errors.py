"""Exceptions shared across hftcore.

``DecodeError`` is defined in the compiled core (``hftcore._ext.records``) so that ``_ext``
imports nothing above it; it is re-exported here and from ``hftcore``.
"""

from __future__ import annotations

from hftcore._ext.records import DecodeError, DecodeErrorCode

__all__ = ["DecodeError", "DecodeErrorCode"]
