"""The bundled sample: a real recording that ships with the package (see its NOTICE).

>>> from hftcore.data import sample
>>> [i.symbol for i in sample.instruments()][:3]
['BAND-BTC', 'BAND-GBP', 'CRV-EUR']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from hftcore.model import Instrument

__all__ = ["NOTICE", "instruments", "notice", "paths"]

_FILE = "coinbase_level2_2021-04-17.txt.gz"
NOTICE = "NOTICE"

# symbol -> (price decimals, size decimals): the most decimals the recording writes them with
_DECIMALS = {
    "BAND-BTC": (8, 2),
    "BAND-GBP": (4, 2),
    "CRV-EUR": (4, 2),
    "DASH-BTC": (8, 8),
    "NMR-EUR": (4, 3),
    "NU-GBP": (4, 6),
    "SKL-BTC": (8, 1),
    "SKL-GBP": (4, 1),
    "SKL-USD": (4, 1),
    "YFI-BTC": (5, 6),
}


def _root() -> Path:
    return Path(str(resources.files(__name__)))


def paths() -> list[Path]:
    """The sample's recording files."""
    return [_root() / _FILE]


def instruments() -> list[Instrument]:
    """The sample's instruments (Coinbase products with their decimals)."""
    out = []
    for sym, (p, q) in sorted(_DECIMALS.items()):
        base, quote = sym.split("-")
        out.append(Instrument("coinbase", sym, p, q, base=base, quote=quote))
    return out


def notice() -> str:
    """The sample's provenance and licence acknowledgment."""
    return (_root() / NOTICE).read_text(encoding="utf-8")
