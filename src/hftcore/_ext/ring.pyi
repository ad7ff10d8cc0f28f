from typing import Any, Final, Literal, TypedDict, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

__all__ = [
    "BACKPRESSURE",
    "WAIT",
    "Consumer",
    "Producer",
    "Ring",
    "RingLayoutError",
    "describe_layout",
    "ring_bytes",
]

Backpressure = Literal["block", "fail", "overwrite"]
WaitStrategy = Literal["spin", "yield", "sleep"]
Records = Buffer | npt.NDArray[Any] | np.void

BACKPRESSURE: Final[dict[str, int]]
WAIT: Final[dict[str, int]]
VERSION: Final[int]
MAX_CONSUMERS: Final[int]

class RingLayoutError(ValueError): ...

class DrainResult(TypedDict):
    read: int
    lost: int
    checksum: int
    out_of_order: int

def describe_layout(dtype: npt.DTypeLike) -> tuple[bytes, int]: ...
def ring_bytes(capacity: int, record_size: int, consumers: int = 1) -> int: ...

@final
class Ring:
    record_size: Final[int]
    capacity: Final[int]
    layout_id: Final[int]
    max_consumers: Final[int]
    def __init__(
        self,
        capacity: int,
        dtype: npt.DTypeLike | None = None,
        *,
        record_size: int | None = None,
        consumers: int = 1,
        backpressure: Backpressure = "block",
        stall_timeout: float | None = 5.0,
        buffer: Buffer | None = None,
        owner_start: int = 0,
    ) -> None: ...
    @staticmethod
    def attach(
        buffer: Buffer, dtype: npt.DTypeLike | None = None, *, record_size: int | None = None
    ) -> Ring: ...
    def release(self) -> None: ...
    @property
    def released(self) -> bool: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def backpressure(self) -> Backpressure: ...
    @property
    def stall_timeout(self) -> float | None: ...
    @property
    def head(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def producer_pid(self) -> int: ...
    @property
    def owner_pid(self) -> int: ...
    @property
    def owner_start(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    def stats(self) -> dict[str, Any]: ...
    def producer(self, *, wait: WaitStrategy = "yield", sleep: float = 50e-6) -> Producer: ...
    def consumer(
        self,
        *,
        wait: WaitStrategy = "yield",
        sleep: float = 50e-6,
        start: Literal["latest", "oldest"] = "latest",
    ) -> Consumer: ...

@final
class Producer:
    @property
    def ring(self) -> Ring: ...
    def publish(self, record: Records, timeout: float | None = None) -> bool: ...
    def publish_batch(self, records: Records, timeout: float | None = None) -> int: ...
    def claim(self, n: int = 1, timeout: float | None = None) -> npt.NDArray[Any]: ...
    def commit(self, n: int | None = None) -> None: ...
    def publish_repeat(
        self, records: Records, count: int, *, batch: int = 256, stamp_sequence: bool = False
    ) -> int: ...
    def close(self, *, end_of_stream: bool = True) -> None: ...
    @property
    def position(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def closed(self) -> bool: ...

@final
class Consumer:
    @property
    def ring(self) -> Ring: ...
    def read(self, max_records: int = 1024, timeout: float | None = 0.0) -> npt.NDArray[Any]: ...
    def read_into(self, out: npt.NDArray[Any], timeout: float | None = 0.0) -> int: ...
    def drain(
        self,
        count: int,
        *,
        batch: int = 256,
        timeout: float | None = None,
        check_sequence: bool = False,
    ) -> DrainResult: ...
    def close(self) -> None: ...
    @property
    def position(self) -> int: ...
    @property
    def batch_seq(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def evicted(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def available(self) -> int: ...
    @property
    def end_of_stream(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
