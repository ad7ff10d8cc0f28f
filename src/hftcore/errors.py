"""Exceptions shared across hftcore."""

from __future__ import annotations


class DecodeError(ValueError):
    """A venue message could not be decoded.

    Carries the venue, the message kind (as far as it was recognised) and the byte offset at
    which decoding stopped, so bad input can be reported and counted rather than crash.
    """

    def __init__(self, message: str, venue: str = "", kind: str = "", offset: int = -1) -> None:
        where = ", ".join(
            part
            for part in (
                f"venue={venue}" if venue else "",
                f"kind={kind}" if kind else "",
                f"offset={offset}" if offset >= 0 else "",
            )
            if part
        )
        super().__init__(f"{message} ({where})" if where else message)
        self.venue = venue
        self.kind = kind
        self.offset = offset
