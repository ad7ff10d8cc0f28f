"""API keys: loaded from the environment or a named file, and never shown - not in reprs, logs,
exceptions, journals, recordings or status dumps (a planted key is grepped for in all of them
after a session that signs, fails signatures, reconnects, journals and records)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import pickle
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from loopback_helpers import (
    BINANCE_INSTRUMENTS,
    BINANCE_RECORDING,
    Probe,
    run,
    sync_all,
    wait_for,
)

from hftcore import OrderStatus
from hftcore.live import LiveEngine, LiveRunner
from hftcore.venues.binance import BinanceVenue
from hftcore.venues.keys import (
    Credentials,
    MissingCredentials,
    RedactingFilter,
    Secret,
    load,
    redact,
)
from hftcore.venues.loopback import BinanceLoopback
from hftcore.venues.ws import Backoff


def test_secret_never_shows_itself() -> None:
    s = Secret("s3cr3t-value-123")
    for text in (repr(s), str(s), f"{s}", f"{s!r:>40}", f"{s}"):
        assert "s3cr3t" not in text and "***" in text
    assert s.reveal() == "s3cr3t-value-123"
    assert s == Secret("s3cr3t-value-123") and s != Secret("other-value-999")
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        hash(s)
    with pytest.raises(TypeError, match="text"):
        Secret(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        Secret("   ")
    c = Credentials.of("binance", "key-abcdefgh", api_secret="sec-abcdefgh")
    assert "abcdefgh" not in repr(c) and "abcdefgh" not in str(c)
    with pytest.raises(TypeError):
        pickle.dumps(c)


def test_load_from_environment() -> None:
    env = {"HFTCORE_OKX_API_KEY": "okx-key-123456", "HFTCORE_OKX_API_SECRET": "okx-sec-123456",
           "HFTCORE_OKX_PASSPHRASE": "okx-pass-123456"}
    c = load("okx", environ=env)
    assert c.api_key.reveal() == "okx-key-123456"
    assert c.api_secret is not None and c.api_secret.reveal() == "okx-sec-123456"
    assert c.passphrase is not None and c.private_key is None
    with pytest.raises(MissingCredentials) as e:
        load("bybit", environ=env)
    assert "HFTCORE_BYBIT_API_KEY" in str(e.value)


def test_load_from_a_named_file(tmp_path: Path) -> None:
    pem = tmp_path / "ed.pem"
    pem.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    f = tmp_path / "keys.toml"
    f.write_text(f'[binance]\napi_key = "bn-key-654321"\nprivate_key_file = "{pem}"\n'
                 '[kraken]\napi_key = "kr-key-654321"\napi_secret = "c2VjcmV0c2VjcmV0"\n')
    os.chmod(f, 0o600)
    c = load("binance", f)
    assert c.private_key is not None and "BEGIN PRIVATE KEY" in c.private_key.reveal()
    assert load("kraken", f).api_secret is not None
    with pytest.raises(MissingCredentials, match=r"no \[okx\] table"):
        load("okx", f)
    bad = tmp_path / "bad.toml"
    bad.write_text('[binance]\napi_key = "unterminated-key-value\n')
    with pytest.raises(MissingCredentials) as e:
        load("binance", bad)
    assert "unterminated-key-value" not in str(e.value)
    with pytest.raises(MissingCredentials, match="cannot read"):
        load("binance", tmp_path / "missing.toml")


def test_redaction_of_log_records() -> None:
    Secret("planted-redaction-xyz")
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s to %s",
                            ("planted-redaction-xyz", "host"), None)
    RedactingFilter().filter(rec)
    assert rec.getMessage() == "sent *** to host"
    assert redact("a planted-redaction-xyz b") == "a *** b"


def _everything_text(tmp: Path, caplog_text: str, extra: list[str]) -> str:
    parts = [caplog_text, *extra]
    for p in tmp.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".gz":
                data = gzip.decompress(data)
            parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("auth", ["hmac", "ed25519"])
def test_planted_key_appears_nowhere(auth: str, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    api_key = "PLANTEDKEY" + secrets.token_hex(12)
    api_secret = "PLANTEDSECRET" + secrets.token_hex(12)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    pem_body = pem.splitlines()[1]
    texts: list[str] = []
    caplog.set_level(1)
    for name in ("picows", "aiohttp", "hftcore", "asyncio"):
        logging.getLogger(name).setLevel(1)

    async def main() -> None:
        server = BinanceLoopback(BINANCE_INSTRUMENTS, BINANCE_RECORDING, manual=True,
                                 api_key=api_key, api_secret=api_secret,
                                 ed25519_public_key=key.public_key())
        async with server:
            creds = (Credentials.of("binance", api_key, api_secret=api_secret) if auth == "hmac"
                     else Credentials.of("binance", api_key, private_key=pem))
            engine = LiveEngine(BINANCE_INSTRUMENTS, mode="live",
                                journal=str(tmp_path / "journal.jsonl"))
            probe = Probe()
            engine.add_strategy(probe)
            venue = BinanceVenue(credentials=creds, ws_url=server.ws_url,
                                 rest_url=server.rest_url, api_url=server.ws_url + "/ws-api/v3",
                                 backoff=Backoff(0.02, 0.1), snapshot_wait=0.05)
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await sync_all(type("S", (), {"venue": venue})())  # type: ignore[arg-type]
                inst = BINANCE_INSTRUMENTS[2]
                bid = engine.books[2].best_bid
                assert bid is not None
                o = probe.buy(inst, inst.qty("10"), bid - 10_000)
                await wait_for(lambda: o.status == OrderStatus.ACCEPTED)
                server.faults.reject_signature = True
                server.drop_connections()          # reconnect: logon / subscription refused
                await wait_for(lambda: venue.api is not None and venue.api.connects >= 3
                               and not venue.trading, what="refused logons")
                p = probe.buy(inst, inst.qty("10"), bid - 10_000)
                await wait_for(lambda: p.status == OrderStatus.REJECTED, what="refusal")
                assert "-1022" in p.reason
                texts.extend([repr(venue), str(venue.status()), repr(creds), str(creds),
                              venue.block_reason, p.reason, repr(engine.om.anomalies),
                              json.dumps(venue.status(), default=str)])
                texts.extend(venue.api_errors)
                if venue.api is not None:
                    texts.append(venue.api.last_error)
                try:
                    await venue.request("order.status", {"symbol": "NKNUSDT",
                                                         "origClientOrderId": "x"})
                except Exception as exc:
                    texts.append(str(exc))
                    texts.append(repr(exc))
            finally:
                await runner.stop()
        # a recording of the same venue: public data only
        rec_server = BinanceLoopback(BINANCE_INSTRUMENTS, BINANCE_RECORDING, speed=500.0)
        async with rec_server:
            env = dict(os.environ, HFTCORE_BINANCE_API_KEY=api_key,
                       HFTCORE_BINANCE_API_SECRET=api_secret)
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hftcore", "record", "--venue", "binance", "--symbols",
                "NKNUSDT", "--out", str(tmp_path / "rec.txt"), "--compress", "--messages", "20",
                "--ws-url", rec_server.ws_url, "--rest-url", rec_server.rest_url, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            so, se = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, se
            texts.extend([so.decode(), se.decode()])

    run(main(), 90)
    everything = _everything_text(tmp_path, caplog.text, texts)
    assert "journal" in "".join(p.name for p in tmp_path.iterdir())
    assert len(everything) > 10_000
    for planted in (api_key, api_secret, pem_body):
        assert planted not in everything
    # the session did sign with them: the server saw the key
    assert "-1022" in everything
