"""Request signing against the venues' published examples (and the documented constructions
where a venue publishes no expected value)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hftcore.venues import binance, kraken

# Binance's documentation example key (web-socket-api.md and rest-api.md, "SIGNED request
# example (HMAC)"); published for illustration, not a real account.
BN_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BN_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def test_binance_ws_api_hmac_examples() -> None:
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "0.01000000", "price": "52000.00", "recvWindow": 100,
              "timestamp": 1645423376532, "apiKey": BN_KEY}
    payload = binance.signature_payload(params)
    assert payload == (
        "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00"
        "&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
        "&timestamp=1645423376532&type=LIMIT")
    assert binance.sign(BN_SECRET, payload) == \
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    # a signature already in the parameters is not part of the payload
    assert binance.signature_payload({**params, "signature": "x"}) == payload
    non_ascii = {"symbol": "１２３４５６", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                 "quantity": "1.00000000", "price": "0.10000000", "recvWindow": 5000,
                 "timestamp": 1645423376532, "apiKey": BN_KEY}
    assert binance.sign(BN_SECRET, binance.signature_payload(non_ascii)) == \
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"


def test_binance_rest_hmac_examples() -> None:
    query = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
    assert binance.sign(BN_SECRET, query) == \
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    encoded = urllib.parse.urlencode({"symbol": "１２３４５６", "side": "BUY", "type": "LIMIT",
                                      "timeInForce": "GTC", "quantity": "1", "price": "0.1",
                                      "recvWindow": "5000", "timestamp": "1499827319559"})
    assert encoded.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&")
    assert binance.sign(BN_SECRET, encoded) == \
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


# Binance's published Ed25519 example key and Logon signature (fix-api.md, "The values presented
# below can be used to validate the correctness of the signature computation").
BN_ED25519_PEM = ("-----BEGIN PRIVATE KEY-----\n"
                  "MC4CAQAwBQYDK2VwBCIEIIJEYWtGBrhACmb9Dvy+qa8WEf0lQOl1s4CLIAB9m89u\n"
                  "-----END PRIVATE KEY-----\n")


def test_binance_ed25519_example() -> None:
    payload = "\x01".join(["A", "EXAMPLE", "SPOT", "1", "20240627-11:17:25.223"])
    assert binance.sign_ed25519(BN_ED25519_PEM, payload) == (
        "4MHXelVVcpkdwuLbl6n73HQUXUf1dse2PCgT1DYqW9w8AVZ1RACFGM+5UdlGPrQHrgtS3CvsRURC1oj73j8gCA==")


def test_binance_ed25519_logon_payload_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    params = {"apiKey": "k", "timestamp": 1649729878532}
    sig = binance.sign_ed25519(key, binance.signature_payload(params))
    key.public_key().verify(base64.b64decode(sig), b"apiKey=k&timestamp=1649729878532")


def test_binance_sign_refuses_wrong_types() -> None:
    with pytest.raises(TypeError):
        binance.sign(b"secret", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="PEM"):
        binance.sign_ed25519("not a key", "x")


# Kraken's documentation example ("Spot REST Authentication", docs.kraken.com).
KR_SECRET = ("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1"
             "huXg==")


def test_kraken_example() -> None:
    body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert kraken.sign(KR_SECRET, "/0/private/AddOrder", "1616492376594", body) == (
        "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")


def test_kraken_sign_is_the_documented_construction() -> None:
    secret = base64.b64encode(b"\x01" * 64).decode()
    want = base64.b64encode(hmac.new(
        b"\x01" * 64, b"/0/private/Balance" + hashlib.sha256(b"5nonce=5").digest(),
        hashlib.sha512).digest()).decode()
    assert kraken.sign(secret, "/0/private/Balance", "5", "nonce=5") == want
    with pytest.raises(ValueError, match="base64"):
        kraken.sign("not base64!", "/0/private/Balance", "5", "nonce=5")
    with pytest.raises(TypeError):
        kraken.sign(secret, "/0/private/Balance", 5, "nonce=5")  # type: ignore[arg-type]
