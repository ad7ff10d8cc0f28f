"""Market data on disk: event files (:mod:`hftcore.data.eventfile`: ``load``, ``EventWriter``),
recordings of venue messages (:mod:`hftcore.data.recordings`), ``convert`` between them, the
bundled sample (:mod:`hftcore.data.sample`) and a synthetic stream (:mod:`hftcore.data.synthetic`).
"""

from __future__ import annotations

from hftcore.data.eventfile import EventFileError, Events, EventWriter, iter_chunks, load
from hftcore.data.recordings import (
    detect_venue,
    infer_instruments,
    open_recording,
    recording_info,
)

__all__ = [
    "EventFileError",
    "EventWriter",
    "Events",
    "detect_venue",
    "infer_instruments",
    "iter_chunks",
    "load",
    "open_recording",
    "recording_info",
]
