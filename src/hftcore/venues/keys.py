"""API keys: loaded from the environment or from a file the user names, never shown.

A key is held in a :class:`Secret`, whose ``repr``/``str``/``format`` print ``***``, which
refuses pickling and comparison by value in the clear, and whose text only comes out through
:meth:`Secret.reveal` at the moment a request is signed.  :class:`Credentials` groups a venue's
secrets (API key, secret, passphrase, private key).  Every revealed value is registered so that
:func:`redact` and :class:`RedactingFilter` can scrub it from text that leaves the process by
accident (a third-party library's log record, an exception).

Environment variables (``VENUE`` upper case: ``BINANCE``, ``BYBIT``, ``OKX``, ``KRAKEN``,
``COINBASE``)::

    HFTCORE_<VENUE>_API_KEY            the API key (Coinbase: the key name "organizations/...")
    HFTCORE_<VENUE>_API_SECRET         HMAC secret (Kraken: base64 as issued)
    HFTCORE_<VENUE>_PASSPHRASE         OKX passphrase
    HFTCORE_<VENUE>_PRIVATE_KEY        PEM text (Binance Ed25519, Coinbase EC key)
    HFTCORE_<VENUE>_PRIVATE_KEY_FILE   or a path to the PEM file

A key file is TOML, one table per venue with the same names in lower case (``api_key``,
``api_secret``, ``passphrase``, ``private_key``, ``private_key_file``)::

    [binance]
    api_key = "..."
    private_key_file = "/home/me/.keys/binance-ed25519.pem"
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "Credentials",
    "MissingCredentials",
    "RedactingFilter",
    "Secret",
    "install_redaction",
    "load",
    "redact",
]

log = logging.getLogger("hftcore.venues.keys")

_MASK = "***"
_lock = threading.Lock()
_known: set[str] = set()   # every secret value revealed or loaded in this process


def _remember(value: str) -> None:
    if len(value) >= 6:      # shorter values would scrub ordinary words out of every text
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with every secret this process has loaded replaced by ``***``."""
    if not _known:
        return text
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, _MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs loaded secrets from messages and their arguments.

    Our own code never formats a secret into a message; this guards the records of other
    libraries (HTTP and websocket clients logging request lines at debug level).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            msg = record.getMessage()
            clean = redact(msg)
            if clean != msg:
                record.msg = clean
                record.args = None
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True


_installed: set[str] = set()


def install_redaction(*loggers: str) -> None:
    """Add a :class:`RedactingFilter` to the handlers of the root logger and of ``loggers``
    (default: ``hftcore``, ``picows``, ``aiohttp``) and to those loggers themselves."""
    names = loggers or ("hftcore", "picows", "aiohttp")
    flt = RedactingFilter()
    for name in ("", *tuple(names)):
        lg = logging.getLogger(name)
        if name and name not in _installed:
            lg.addFilter(flt)
            _installed.add(name)
        for h in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in h.filters):
                h.addFilter(flt)


class Secret:
    """A secret text that never shows itself: ``repr``, ``str`` and ``format`` give ``***``.

    Parameters
    ----------
    value : str
        The secret (non-empty).
    """

    __slots__ = ("__value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be text, got {type(value).__name__}")
        if not value.strip():
            raise ValueError("a secret must not be empty")
        self.__value = value.strip()
        _remember(self.__value)

    def reveal(self) -> str:
        """The secret text (to sign a request with; never log it)."""
        return self.__value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.__value.encode(), other.__value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        raise TypeError("secrets are not pickled")

    def __len__(self) -> int:
        return len(self.__value)


class MissingCredentials(ValueError):
    """A venue's keys were asked for but not configured (names the variables, never values)."""


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """A venue's keys.  Only the fields a venue uses need to be set.

    Parameters
    ----------
    venue : str
    api_key : Secret
        The API key (Coinbase: the key name).
    api_secret : Secret, optional
        The HMAC secret.
    passphrase : Secret, optional
        OKX's passphrase.
    private_key : Secret, optional
        PEM text of an Ed25519 (Binance) or EC P-256 (Coinbase) private key.
    """

    venue: str
    api_key: Secret
    api_secret: Secret | None = None
    passphrase: Secret | None = None
    private_key: Secret | None = None

    def __repr__(self) -> str:
        have = [n for n in ("api_secret", "passphrase", "private_key")
                if getattr(self, n) is not None]
        return f"Credentials(venue={self.venue!r}, api_key={_MASK!r}, has={have})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("credentials are not pickled")

    @classmethod
    def of(cls, venue: str, api_key: str, api_secret: str | None = None,
           passphrase: str | None = None, private_key: str | None = None) -> Credentials:
        """Credentials from plain text values (kept as :class:`Secret`)."""
        return cls(venue, Secret(api_key),
                   Secret(api_secret) if api_secret is not None else None,
                   Secret(passphrase) if passphrase is not None else None,
                   Secret(private_key) if private_key is not None else None)


_FIELDS = ("api_key", "api_secret", "passphrase", "private_key")


def _env_names(venue: str) -> dict[str, str]:
    v = venue.upper()
    return {f: f"HFTCORE_{v}_{f.upper()}" for f in (*_FIELDS, "private_key_file")}


def _read_pem(path: str | os.PathLike[str], where: str) -> str:
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="ascii")
    except OSError as exc:
        raise MissingCredentials(f"{where}: cannot read the private key file {p} "
                                 f"({exc.strerror})") from None
    except UnicodeDecodeError:
        raise MissingCredentials(f"{where}: {p} is not a PEM text file") from None
    _warn_if_open(p)
    return text


def _warn_if_open(p: Path) -> None:
    try:
        mode = p.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s is readable by other users; chmod 600 it", p)


def _build(venue: str, values: Mapping[str, Any], where: str,
           names: Mapping[str, str]) -> Credentials:
    out: dict[str, str] = {}
    for f in _FIELDS:
        v = values.get(f)
        if v is None or v == "":
            continue
        if not isinstance(v, str):
            raise MissingCredentials(f"{where}: {names[f]} must be text")
        out[f] = v
    pk_file = values.get("private_key_file")
    if "private_key" not in out and pk_file:
        if not isinstance(pk_file, str):
            raise MissingCredentials(f"{where}: {names['private_key_file']} must be a path")
        out["private_key"] = _read_pem(pk_file, where)
    if "api_key" not in out:
        raise MissingCredentials(f"{where}: no API key for {venue} (set {names['api_key']})")
    return Credentials.of(venue, out["api_key"], out.get("api_secret"), out.get("passphrase"),
                          out.get("private_key"))


def load(venue: str, file: str | os.PathLike[str] | None = None,
         environ: Mapping[str, str] | None = None) -> Credentials:
    """A venue's credentials from the TOML ``file`` the user names, else from the environment.

    Raises :class:`MissingCredentials` naming what is missing (never a value).
    """
    if not isinstance(venue, str) or not venue:
        raise TypeError("venue must be a venue name")
    venue = venue.lower()
    if file is not None:
        p = Path(file).expanduser()
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MissingCredentials(f"{p}: cannot read the key file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            # the parser's message quotes no values, only positions
            raise MissingCredentials(f"{p}: not a TOML key file ({exc})") from None
        _warn_if_open(p)
        table = data.get(venue)
        if not isinstance(table, dict):
            raise MissingCredentials(f"{p}: no [{venue}] table")
        return _build(venue, table, str(p), {f: f"{venue}.{f}" for f in
                                             (*_FIELDS, "private_key_file")})
    env = os.environ if environ is None else environ
    names = _env_names(venue)
    values = {f: env.get(n) for f, n in names.items()}
    return _build(venue, values, "environment", names)
