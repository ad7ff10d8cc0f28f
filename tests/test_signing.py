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


# Bybit v5 and OKX v5 publish the string to sign but no signature for it: the tests hold the
# signatures to the documented constructions (an HMAC computed here by hand).

def test_bybit_request_and_ws_auth() -> None:
    from hftcore.venues import bybit

    secret = "bybit-test-secret"
    # the documented GET example: timestamp + api_key + recv_window + queryString
    got = bybit.sign_request(secret, 1658384314791, "XXXXXXXXXX", 5000,
                             "category=option&symbol=BTC-29JUL22-25000-C")
    want = hmac.new(secret.encode(),
                    b"1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C",
                    hashlib.sha256).hexdigest()
    assert got == want and len(got) == 64
    assert bybit.sign_ws_auth(secret, 1662350400000) == hmac.new(
        secret.encode(), b"GET/realtime1662350400000", hashlib.sha256).hexdigest()


def test_okx_request_and_ws_login() -> None:
    from hftcore.venues import okx

    secret = "okx-test-secret"
    ts = "2020-12-08T09:08:57.715Z"
    got = okx.sign(secret, ts, "get", "/api/v5/account/balance?ccy=BTC")
    want = base64.b64encode(hmac.new(
        secret.encode(), b"2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC",
        hashlib.sha256).digest()).decode()
    assert got == want
    body = ('{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit",'
            '"px":"2.15","sz":"2"}')
    assert okx.sign(secret, ts, "POST", "/api/v5/trade/order", body) == base64.b64encode(
        hmac.new(secret.encode(), (ts + "POST/api/v5/trade/order" + body).encode(),
                 hashlib.sha256).digest()).decode()
    assert okx.sign_ws_login(secret, 1538054050) == okx.sign(secret, "1538054050", "GET",
                                                             "/users/self/verify")


def test_coinbase_es256_jwt() -> None:
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from hftcore.venues import coinbase

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL,
                            NoEncryption()).decode()
    name = "organizations/org-1/apiKeys/key-1"
    token = coinbase.jwt(name, pem, method="get", path="/api/v3/brokerage/accounts",
                         now=1_700_000_000)

    def part(x: str) -> bytes:
        return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))

    h, c, sig = token.split(".")
    header, claims = json.loads(part(h)), json.loads(part(c))
    assert header["alg"] == "ES256" and header["kid"] == name and header["typ"] == "JWT"
    assert len(header["nonce"]) == 32
    assert claims == {"iss": "cdp", "sub": name, "nbf": 1_700_000_000, "exp": 1_700_000_120,
                      "uri": "GET api.coinbase.com/api/v3/brokerage/accounts"}
    raw = part(sig)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.public_key().verify(der, f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    ws = coinbase.jwt(name, pem)
    assert "uri" not in json.loads(part(ws.split(".")[1]))
    with pytest.raises(ValueError, match="P-256"):
        coinbase.jwt(name, BN_ED25519_PEM)


def test_recording_plans_of_every_venue() -> None:
    from hftcore.record import plan

    p = plan("binance", ["btcusdt"])
    assert p.url.endswith("/stream?streams=btcusdt@depth@100ms/btcusdt@trade")
    assert p.snapshots == {"BTCUSDT": "/api/v3/depth?symbol=BTCUSDT&limit=1000"}
    assert plan("bybit", ["BTCUSDT"]).subscriptions == [
        b'{"op":"subscribe","args":["orderbook.50.BTCUSDT","publicTrade.BTCUSDT"]}']
    okx_plan = plan("okx", ["BTC-USDT"])
    assert okx_plan.ping_message == b"ping" and okx_plan.pong_exact == b"pong"
    assert plan("kraken", ["XBT/USD"]).subscriptions[0] == \
        b'{"event":"subscribe","pair":["XBT/USD"],"subscription":{"name":"book","depth":1000}}'
    assert b'"channel":"heartbeats"' in plan("coinbase", ["BTC-USD"]).subscriptions[-1]
    with pytest.raises(ValueError, match="unknown venue"):
        plan("mtgox", ["BTCUSD"])
    with pytest.raises(ValueError, match="symbol"):
        plan("binance", [""])
