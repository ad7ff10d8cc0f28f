from collections.abc import Callable
from typing import Any, final

from picows import WSFrame, WSListener, WSTransport

from hftcore._ext.feed import Feed

__all__ = ["FeedListener", "realtime_ns"]

def realtime_ns() -> int: ...
@final
class FeedListener(WSListener):
    feed: Feed
    frames: int
    messages: int
    data_messages: int
    control_messages: int
    bad_messages: int
    fragmented: int
    protocol_errors: int
    queued_frames: int
    bytes_received: int
    sync_lost: int
    max_lag_ns: int
    def __init__(self, conn: Any, feed: Feed, engine: Any,
                 on_control: Callable[[int, bytes, int], None],
                 on_sync_lost: Callable[[int], None], *, check_valid: bool = False,
                 pong: bytes = b"") -> None: ...
    def on_ws_connected(self, transport: WSTransport) -> None: ...
    def on_ws_disconnected(self, transport: WSTransport) -> None: ...
    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None: ...
    def last_seen(self, index: int) -> int: ...
    def reset_sync(self, index: int) -> None: ...
    def take_max_lag(self) -> int: ...
    def counters(self) -> dict[str, int]: ...
