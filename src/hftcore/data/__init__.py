"""Market data on disk: recordings of venue messages (:mod:`hftcore.data.recordings`) and the
bundled sample (:mod:`hftcore.data.sample`)."""

from __future__ import annotations

from hftcore.data.recordings import detect_venue, open_recording, recording_info

__all__ = ["detect_venue", "open_recording", "recording_info"]
