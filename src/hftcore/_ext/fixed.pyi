from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

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

# what parse() reads besides str (checked with isinstance at run time)
_Bytes: TypeAlias = bytes | bytearray | memoryview

ROUNDING_MODES: dict[str, int]

def rounding_code(rounding: str | None) -> int: ...
def parse(text: str | _Bytes, decimals: int, rounding: str | None = None) -> int: ...
def format(raw: int, decimals: int, trim: bool = False) -> str: ...
def format_digits(raw: int, decimals: int) -> str: ...
def rescale(raw: int, from_decimals: int, to_decimals: int, rounding: str | None = None) -> int: ...
def add(a: int, b: int) -> int: ...
def sub(a: int, b: int) -> int: ...
def mul(
    a: int, a_decimals: int, b: int, b_decimals: int, out_decimals: int,
    rounding: str | None = None,
) -> int: ...
def div(
    a: int, a_decimals: int, b: int, b_decimals: int, out_decimals: int,
    rounding: str | None = None,
) -> int: ...
def parse_many(
    data: Buffer, decimals: int, rounding: str | None = None, sep: bytes = b"\n"
) -> npt.NDArray[np.int64]: ...
