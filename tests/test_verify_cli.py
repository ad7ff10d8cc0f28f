"""``hftcore verify`` on the bundled recordings as a new user runs it: good files verify OK
(Kraken tickers, a Binance snapshot file on its own, venue names in any case), an empty or
data-free file says there was nothing to verify, and the notes say what to pass besides."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import hftcore
from hftcore.cli import EXIT_FAILED, EXIT_NOTHING, EXIT_OK, main
from hftcore.decoders import MessageKind, decoder_for, message_text, read_recording
from hftcore.verify import VerifyReport, infer_decimals

DATA = Path(__file__).parent / "data"
KRAKEN_BOOK = DATA / "kraken" / "ws_v1_book_2021-04-17.txt"
KRAKEN_TICKER = DATA / "kraken" / "ws_v1_ticker_2021-04-17.txt"
BINANCE_REST = DATA / "binance" / "spot_rest_depth_2021-10-12.txt"
BINANCE_WS = DATA / "binance" / "spot_ws_2021-10-12.txt"


def verify(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    rc = main(["verify", *map(str, args), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_kraken_ticker_recording_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    rc, report = verify(capsys, KRAKEN_TICKER, "--venue", "kraken")
    assert rc == EXIT_OK and report["status"] == "ok" and report["ok"], report
    assert report["unknown_symbols"] == 0 and report["decode_errors"] == 0
    assert report["data_messages"] == {"bbo": 18}
    assert report["notes"] == []


def test_ticker_decimals_are_inferred_and_exact() -> None:
    msgs = [m for m in read_recording(KRAKEN_TICKER) if m.kind == "recv"]
    decs = infer_decimals("kraken", [m.data for m in msgs])
    assert decs["XBT/CHF"] == (5, 8) and decs["OCEAN/XBT"] == (9, 8)
    dec = decoder_for("kraken", [hftcore.Instrument("kraken", s, p, q, instrument_id=i)
                                 for i, (s, (p, q)) in enumerate(sorted(decs.items()), 1)])
    seen = 0
    for m in msgs:
        if dec.decode(m.data, m.ts_ns) != MessageKind.BBO:
            continue
        ticker = orjson.loads(m.data)
        p, q = decs[ticker[-1]]
        bbo = dec.bbos[0]
        for side, px, sz in (("b", "bid_price", "bid_size"), ("a", "ask_price", "ask_size")):
            price, _, size = ticker[1][side]
            assert int(bbo[px]) == int(Decimal(price).scaleb(p)), m.line
            assert int(bbo[sz]) == int(Decimal(size).scaleb(q)), m.line
        seen += 1
    assert seen == 18


def test_binance_snapshot_file_alone_is_not_a_failure(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    rc, report = verify(capsys, BINANCE_REST, "--venue", "binance")
    assert rc == EXIT_OK and report["status"] == "ok", report
    assert report["unknown_symbols"] == 0 and report["decode_errors"] == 0
    assert report["data_messages"] == {"book_snapshot": 4}
    assert set(report["decimals"]) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    [note] = report["notes"]
    assert "only REST depth snapshots" in note and "websocket recording" in note


def test_binance_snapshot_text_report_tells_to_pass_the_stream() -> None:
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(BINANCE_REST),
                           "--venue", "binance"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert proc.stdout.startswith("OK: binance")
    assert "note: only REST depth snapshots" in proc.stdout
    assert "hftcore verify STREAM.txt SNAPSHOTS.txt --venue binance" in proc.stdout


def test_binance_stream_alone_says_the_books_were_not_built(capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    rc, report = verify(capsys, BINANCE_WS, "--venue", "binance")
    assert rc == EXIT_OK and report["ok"]
    [note] = report["notes"]
    assert "no REST depth snapshot" in note


def test_binance_stream_with_snapshots_has_no_notes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, report = verify(capsys, BINANCE_REST, BINANCE_WS, "--venue", "binance")
    assert rc == EXIT_OK and report["ok"] and report["notes"] == []
    assert report["data_messages"]["book_snapshot"] == 4


def test_rest_symbols_come_from_the_url() -> None:
    decs = infer_decimals("binance", read_recording(BINANCE_REST))
    assert decs == {"NKNUSDT": (8, 8), "BLZETH": (8, 8), "LRCBTC": (8, 8),
                    "RUNEEUR": (8, 8)}
    # the bodies alone name no symbol
    assert infer_decimals("binance", [m.data for m in read_recording(BINANCE_REST)]) == {}


@pytest.mark.parametrize("spelling", ["Kraken", "KRAKEN", " kraken"])
def test_venue_names_are_case_insensitive(capsys: pytest.CaptureFixture[str],
                                          spelling: str) -> None:
    rc, report = verify(capsys, KRAKEN_BOOK, "--venue", spelling)
    assert rc == EXIT_OK and report["ok"] and report["venue"] == "kraken"
    assert report["checksums_verified"] == 4269 and report["unknown_symbols"] == 0


def test_infer_decimals_ignores_the_venue_case() -> None:
    data = [m.data for m in read_recording(KRAKEN_TICKER)]
    assert infer_decimals("Kraken", data) == infer_decimals("kraken", data) != {}


def test_empty_file_is_nothing_to_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    rc, report = verify(capsys, empty, "--venue", "kraken")
    assert rc == EXIT_NOTHING != 0
    assert report["status"] == "nothing to verify" and not report["ok"]
    assert report["notes"] == ["nothing to verify: no messages in the file(s)"]
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(empty), "--venue",
                           "kraken"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_NOTHING
    assert proc.stdout.startswith("NOTHING TO VERIFY: kraken")


def test_control_messages_only_is_nothing_to_verify(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    head = tmp_path / "subscribed.txt"
    lines = KRAKEN_BOOK.read_bytes().splitlines(keepends=True)
    head.write_bytes(b"".join(ln for ln in lines[:40] if b"event" in ln))
    rc, report = verify(capsys, head, "--venue", "kraken")
    assert rc == EXIT_NOTHING and report["messages"] > 0 and not report["data_messages"]
    assert "none of the" in report["notes"][0] and "market data" in report["notes"][0]


def test_wrong_venue_fails_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    rc, report = verify(capsys, KRAKEN_BOOK, "--venue", "binance")
    assert rc == EXIT_FAILED and report["status"] == "failed"
    assert "is --venue right?" in report["notes"][0]


def test_unknown_symbol_note_points_at_decimals(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    # a ticker whose sides are not arrays: no decimals can be inferred for its pair
    rec = tmp_path / "odd.txt"
    rec.write_bytes(b'1618678132.9: [1,{"a":"x","b":"y"},"ticker","ODD/EUR"]\n')
    rc, report = verify(capsys, rec, "--venue", "kraken")
    assert rc == EXIT_FAILED and report["unknown_symbols"] == 1
    assert any("--decimals SYM=P,S" in n for n in report["notes"])


def test_report_status_and_exit_code() -> None:
    r = VerifyReport("okx")
    assert (r.status, r.exit_code, r.ok) == ("nothing to verify", EXIT_NOTHING, False)
    r.data_messages["trade"] = 1
    assert (r.status, r.exit_code, r.ok) == ("ok", EXIT_OK, True)
    r.sequence_gaps = 1
    assert (r.status, r.exit_code, r.ok) == ("failed", EXIT_FAILED, False)


def test_kraken_v2_ticker_decimals_are_inferred(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rec = tmp_path / "v2_ticker.txt"
    rec.write_bytes(
        b'1735689600.1: {"channel":"ticker","type":"snapshot","data":[{"symbol":"BTC/USD",'
        b'"bid":105944.2,"bid_qty":0.13612,"ask":105944.3,"ask_qty":7.5,"last":105944.25,'
        b'"timestamp":"2025-01-01T00:00:00.000000Z"}]}\n'
        b'1735689600.2: {"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD",'
        b'"bid":105944.25,"bid_qty":1,"ask":105944.3,"ask_qty":0.5,"last":105944.3,'
        b'"timestamp":"2025-01-01T00:00:00.100000Z"}]}\n')
    assert infer_decimals("kraken", read_recording(rec)) == {"BTC/USD": (2, 5)}
    rc, report = verify(capsys, rec, "--venue", "kraken")
    assert rc == EXIT_OK and report["data_messages"] == {"bbo": 2}, report


def test_a_symbol_the_decoder_refuses_is_one_line(tmp_path: Path) -> None:
    rec = tmp_path / "long_symbol.txt"
    rec.write_bytes(b'1618678132.9: [1,{"a":["1.0",1,"1.0"],"b":["1.0",1,"1.0"]},"ticker","'
                    + b"X" * 80 + b'"]\n')
    proc = subprocess.run([sys.executable, "-m", "hftcore", "verify", str(rec), "--venue",
                           "kraken"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_FAILED and "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("hftcore verify: error: cannot replay the recording: symbol")


def _chained_updates(venue: str) -> int:
    """The book updates whose sequence chain verify must check, counted from the raw JSON
    (independently of the decoders): every update after its book's snapshot (KuCoin: every
    diff newer than the symbol's REST snapshot)."""
    n = 0
    if venue == "kucoin":
        snap = {m.url.split("symbol=")[1]: int(orjson.loads(m.data)["data"]["sequence"])
                for m in read_recording(DATA / "kucoin/rest_level2_2021-04-25.txt")
                if m.kind == "rest"}
        for m in read_recording(DATA / "kucoin/ws_2021-04-25_part1.txt"):
            j = orjson.loads(m.data) if m.kind == "recv" else {}
            if j.get("subject") == "trade.l2update":
                d = j["data"]
                n += d["symbol"] in snap and d["sequenceEnd"] > snap[d["symbol"]]
        return n
    if venue == "bitfinex":
        # one sequence over the connection: every channel message after the first
        msgs = [m for m in read_recording(DATA / "bitfinex/ws_v2_2021-04-17.txt")
                if m.kind == "recv"]
        return sum(m.data.startswith(b"[") for m in msgs) - 1
    seen: set[str] = set()
    path = {"deribit": "deribit/ws_v2_2021-07-22.txt",
            "kraken_futures": "kraken_futures/ws_v1_2021-07-22_part1.txt"}[venue]
    for m in read_recording(DATA / path):
        j = orjson.loads(m.data) if m.kind == "recv" else {}
        if venue == "deribit":
            p = j.get("params") or {}
            d = p.get("data")
            if isinstance(d, dict) and "change_id" in d and p["channel"].startswith("book."):
                n += d.get("type") == "change" and p["channel"] in seen
                seen.add(p["channel"])
        elif j.get("feed") == "book_snapshot":
            seen.add(j["product_id"])
        elif j.get("feed") == "book" and "event" not in j:
            n += j["product_id"] in seen
    return n


@pytest.mark.parametrize(("venue", "files"), [
    ("kucoin", ["kucoin/rest_level2_2021-04-25.txt", "kucoin/ws_2021-04-25_part1.txt"]),
    ("deribit", ["deribit/ws_v2_2021-07-22.txt"]),
    ("kraken_futures", ["kraken_futures/ws_v1_2021-07-22_part1.txt"]),
    ("bitfinex", ["bitfinex/ws_v2_2021-04-17.txt"]),
])
def test_new_venue_recordings_verify_with_every_chain_checked(
        venue: str, files: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, report = verify(capsys, *(DATA / f for f in files), "--venue", venue)
    assert rc == EXIT_OK and report["ok"], report
    assert report["sequence_gaps"] == 0 and report["decode_errors"] == 0
    assert report["books_checked"] and report["crossed_books"] == 0
    expected = _chained_updates(venue)
    assert expected > 0 and report["sequence_checks"] == expected


def test_new_venue_gap_is_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One Kraken Futures book update taken out of the recording: verify reports the gap."""
    src = (DATA / "kraken_futures/ws_v1_2021-07-22_part1.txt").read_bytes().splitlines(True)
    i = next(i for i, line in enumerate(src) if b'"feed":"book","product_id"' in line
             and any(b'"feed":"book_snapshot"' in x for x in src[:i]))
    rec = tmp_path / "kf_gap.txt"
    rec.write_bytes(b"".join(src[:i] + src[i + 1:]))
    rc, report = verify(capsys, rec, "--venue", "kraken_futures")
    assert rc == EXIT_FAILED and report["sequence_gaps"] >= 1, report


def test_htx_recording_verifies_without_gaps(capsys: pytest.CaptureFixture[str]) -> None:
    """HTX depth.step0: every message a snapshot (no chain to check), gzip frames inflated, pings
    counted; every message decodes, the sizes HTX printed from binary floats ("3307.9982700421942"
    beside "5993289.85" for one symbol) rounded half-even at the symbol's size decimals (at most
    8, HTX's amount precision) and counted."""
    from decode_reference import reference, size_count

    path = DATA / "htx/ws_spot_gzip_2021-04-17.txt"
    rc, report = verify(capsys, path, "--venue", "htx")
    msgs = list(read_recording(path))
    decs = infer_decimals("htx", msgs)
    assert max(sd for _, sd in decs.values()) == 8
    rounded = 0
    for m in msgs:
        if m.kind == "recv":
            ref = reference("htx", m.data)
            if ref.symbol in decs:
                rounded += sum(size_count("htx", r[2], decs[ref.symbol][1])[1]
                               for r in ref.deltas + ref.trades)
    assert report["sequence_gaps"] == 0 and report["books_checked"], report
    assert report["decode_errors"] == 0
    assert report["sizes_rounded"] == rounded > 0
    assert any("rounded half-even" in n for n in report["notes"])
    assert report["other_messages"]["heartbeat"] == sum(
        b'"ping"' in message_text(m.data) for m in msgs if m.kind == "recv") > 0
    assert report["data_messages"]["book_snapshot"] == sum(
        message_text(m.data).startswith(b'{"ch":"market.') and
        b".depth.step0" in message_text(m.data)[:60] for m in msgs if m.kind == "recv")
    assert rc == EXIT_OK


def test_bitfinex_reconnect_starts_a_new_sequence(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A recording with a reconnect: the second connection's sequence starts at 1 again and its
    channel ids are new (the "info" event opens every connection) -- no gap, every chain of
    both connections checked, the books rebuilt from the new snapshots."""
    src = (DATA / "bitfinex/ws_v2_2021-04-17.txt").read_bytes()
    rc1, one = verify(capsys, DATA / "bitfinex/ws_v2_2021-04-17.txt", "--venue", "bitfinex")
    lines = [x for x in src.splitlines() if x.strip()]

    def split(line: bytes) -> tuple[bytes, float, bytes]:
        """(what precedes the time, the time, what follows it) of one recording line."""
        head, sep, rest = line.partition(b": ")
        before, _, ts = head.rpartition(b" ")
        return (before + b" " if before else b""), float(ts), sep + rest
    shift = max(split(x)[1] for x in lines) + 10 - split(lines[0])[1]
    # the same session again, later (a reconnect): every time moved past the first session
    again = [b"%s%.6f%s" % (a, t + shift, b) for a, t, b in map(split, lines)]
    rec = tmp_path / "bfx_reconnect.txt"
    rec.write_bytes(b"\n".join(lines + again) + b"\n")
    rc, two = verify(capsys, rec, "--venue", "bitfinex")
    assert rc1 == rc == EXIT_OK and two["sequence_gaps"] == 0, two["errors"]
    assert two["messages"] == 2 * one["messages"]
    assert two["sequence_checks"] == 2 * one["sequence_checks"] > 1000
    assert two["book_updates"] == 2 * one["book_updates"]


def test_bitfinex_connection_gap_is_found(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A heartbeat taken out of the Bitfinex recording: its sequence number is missing, verify
    reports the gap (the conf flag 65536 numbers every channel message of the connection)."""
    src = (DATA / "bitfinex/ws_v2_2021-04-17.txt").read_bytes().splitlines(True)
    i = next(i for i, line in enumerate(src) if b',"hb",' in line and i > 200)
    rec = tmp_path / "bfx_gap.txt"
    rec.write_bytes(b"".join(src[:i] + src[i + 1:]))
    rc, report = verify(capsys, rec, "--venue", "bitfinex")
    assert rc == EXIT_FAILED and report["sequence_gaps"] == 1, report


def _bfx_recording(tmp_path: Path, checksum: int) -> Path:
    rec = tmp_path / "bfx_cs.txt"
    rec.write_text(
        '1.0: {"event":"conf","status":"OK","flags":196608}\n'
        '1.1: {"event":"subscribed","channel":"book","chanId":9,"symbol":"tBTCUSD",'
        '"prec":"P0","freq":"F0","len":"25","pair":"BTCUSD"}\n'
        "1.2: [9,[[60000.5,1,1.25],[60000,2,0.00000015],[60001,1,-2],[60002.5,3,-0.5]],1]\n"
        "1.3: [9,[60000.5,0,1],2]\n"
        f'1.4: [9,"cs",{checksum},3]\n')
    return rec


def test_bitfinex_checksums_are_verified(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import zlib

    # after the update the book is: bid 60000 x 0.00000015; asks 60001 x 2, 60002.5 x 0.5;
    # the text as JavaScript prints the numbers, bid and ask interleaved, asks negative
    text = "60000:1.5e-7:60001:-2:60002.5:-0.5"
    crc = zlib.crc32(text.encode())
    good = crc - (1 << 32) if crc >= 1 << 31 else crc
    rc, report = verify(capsys, _bfx_recording(tmp_path, good), "--venue", "bitfinex",
                        "--decimals", "tBTCUSD=1,8")
    assert rc == EXIT_OK and report["checksums_verified"] == 1, report
    rc, report = verify(capsys, _bfx_recording(tmp_path, good ^ 1), "--venue", "bitfinex",
                        "--decimals", "tBTCUSD=1,8")
    assert rc == EXIT_FAILED and report["checksums_failed"] == 1, report
