"""Decoded records rebuild books that reproduce every recorded checksum, and ``hftcore verify``
reports clean recordings as OK and damaged ones as failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hftcore
from hftcore.cli import main
from hftcore.decoders import MessageKind, decoder_for, read_recording
from hftcore.verify import infer_decimals, verify_messages

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("venue", "name", "depth", "expected"), [
    ("kraken", "kraken/ws_v1_book_2021-04-17.txt", 1000, 4269),
    ("okx", "okx/ws_v5_public_2022-05-13_part1.txt", 0, 103),
])
def test_books_from_decoded_records_reproduce_every_checksum(
        venue: str, name: str, depth: int, expected: int) -> None:
    msgs = [m for m in read_recording(DATA / name) if m.kind == "recv"]
    decs = infer_decimals(venue, [m.data for m in msgs])
    ids = {s: i for i, s in enumerate(sorted(decs), 1)}
    dec = decoder_for(venue, [hftcore.Instrument(venue, s, p, q, instrument_id=ids[s])
                              for s, (p, q) in decs.items()])
    books = {ids[s]: hftcore.L2Book(p, q, max_depth=depth) for s, (p, q) in decs.items()}
    checked = 0
    for m in msgs:
        kind = dec.decode(m.data, m.ts_ns)
        if kind not in (MessageKind.BOOK_SNAPSHOT, MessageKind.BOOK_UPDATE):
            continue
        book = books[dec.instrument_id]
        assert book.apply_deltas(dec.deltas) == dec.n_deltas
        cs = dec.checksum
        if cs is None:                       # Kraken v1 snapshots carry no checksum
            assert venue == "kraken" and kind == MessageKind.BOOK_SNAPSHOT
            continue
        assert (book.checksum(venue) - cs) % (1 << 32) == 0, m.line
        checked += 1
    assert checked == expected


FILES = [
    ("binance", ["binance/spot_ws_2021-10-12.txt", "binance/spot_rest_depth_2021-10-12.txt"]),
    ("kraken", ["kraken/ws_v1_book_2021-04-17.txt"]),
    ("kraken", ["kraken/ws_v1_trade_2021-04-17.txt"]),
    ("okx", ["okx/ws_v5_public_2022-05-13_part1.txt"]),
    ("coinbase", ["coinbase/exchange_ws_2021-04-17.txt"]),
    ("bybit", ["bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"]),
    ("kucoin", ["kucoin/rest_level2_2021-04-25.txt", "kucoin/ws_2021-04-25_part1.txt"]),
    ("deribit", ["deribit/ws_v2_2021-07-22.txt"]),
    ("kraken_futures", ["kraken_futures/ws_v1_2021-07-22_part1.txt"]),
]

#: book updates whose sequence chain is checked: every update but each symbol's first (the chain
#: starts there) and those dropped as older than the symbol's REST snapshot
SEQUENCE_CHECKS = {"kucoin": 2208, "bybit": 49, "deribit": 36, "kraken_futures": 4163}


@pytest.mark.parametrize(("venue", "names"), FILES)
def test_verify_recordings_ok(venue: str, names: list[str], capsys: pytest.CaptureFixture[str]
                              ) -> None:
    rc = main(["verify", *[str(DATA / n) for n in names], "--venue", venue, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["ok"], report
    assert report["decode_errors"] == 0 and report["books_checked"]
    assert sum(report["data_messages"].values()) > 0
    if (venue in ("kraken", "okx") and "book" in names[0]) or venue == "okx":
        assert report["checksums_verified"] > 0 and report["checksums_failed"] == 0
    if venue in SEQUENCE_CHECKS:
        assert report["sequence_checks"] == SEQUENCE_CHECKS[venue]
        assert report["sequence_gaps"] == 0


def _damaged(tmp_path: Path, name: str, fn: object) -> Path:
    lines = (DATA / name).read_bytes().splitlines(keepends=True)
    out = tmp_path / Path(name).name
    out.write_bytes(b"".join(fn(lines)))  # type: ignore[operator]
    return out


def test_verify_reports_checksum_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    def change_a_size(lines: list[bytes]) -> list[bytes]:
        i = next(i for i, ln in enumerate(lines) if b'"c":"' in ln and i > 100)
        # change the first level's volume of that update: the checksum no longer matches
        head, _, tail = lines[i].partition(b'[["')
        price, _, rest = tail.partition(b'","')
        lines[i] = head + b'[["' + price + b'","9' + rest
        return lines

    path = _damaged(tmp_path, "kraken/ws_v1_book_2021-04-17.txt", change_a_size)
    rc = main(["verify", str(path), "--venue", "kraken", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 1 and report["checksums_failed"] >= 1


def test_verify_reports_gaps_and_decode_errors(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def drop_and_break(lines: list[bytes]) -> list[bytes]:
        del lines[20]
        lines[30] = lines[30][:-20] + b"\n"
        return lines

    path = _damaged(tmp_path, "bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl",
                    drop_and_break)
    rc = main(["verify", str(path), "--venue", "bybit"])
    out = capsys.readouterr().out
    assert rc == 1 and "FAILED" in out
    msgs = list(read_recording(path))
    decs = infer_decimals("bybit", [m.data for m in msgs])
    report = verify_messages("bybit", msgs, decs)
    assert report.sequence_gaps >= 1 and report.decode_errors == 1 and not report.ok


def test_verify_decimals_option(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "bybit/v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"
    # two price decimals cannot hold "1.9531": every book message is a decode error
    rc = main(["verify", str(path), "--venue", "bybit", "--decimals", "XRPUSDT=2,0", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 1 and report["decode_errors"] == 50


def _kraken_v2_book(kind: str, items: list[tuple[str, list[tuple[int, str, str]], int]]) -> bytes:
    """A Kraken v2 book message: per symbol, levels (side, price text, qty text) and checksum."""
    data = []
    for sym, levels, cs in items:
        bids = ",".join(f'{{"price":{p},"qty":{q}}}' for s, p, q in levels if s == 0)
        asks = ",".join(f'{{"price":{p},"qty":{q}}}' for s, p, q in levels if s == 1)
        data.append(f'{{"symbol":"{sym}","bids":[{bids}],"asks":[{asks}],"checksum":{cs},'
                    f'"timestamp":"2023-10-06T17:35:55.440295Z"}}')
    return f'{{"channel":"book","type":"{kind}","data":[{",".join(data)}]}}'.encode()


def test_verify_applies_each_instruments_deltas_to_its_own_book(tmp_path: Path) -> None:
    """One Kraken v2 message carrying two symbols: each symbol's levels go to its own book and
    each checksum is checked against that book (was: everything applied to the first one)."""
    decs = {"BTC/USD": (1, 3), "ETH/USD": (2, 3)}
    books = {s: hftcore.L2Book(p, q, max_depth=10) for s, (p, q) in decs.items()}
    msgs = []
    sums: list[dict[str, int]] = []
    steps: list[tuple[str, dict[str, list[tuple[int, str, str]]]]] = [
        ("snapshot", {"BTC/USD": [(0, "100.1", "1.5"), (0, "100.0", "2"), (1, "100.2", "0.25")],
                      "ETH/USD": [(0, "10.01", "3"), (1, "10.02", "4"), (1, "10.05", "1")]}),
        ("update", {"BTC/USD": [(0, "100.1", "0"), (1, "100.3", "7")],
                    "ETH/USD": [(1, "10.02", "0.5")]}),
        ("update", {"ETH/USD": [(0, "10.00", "9")], "BTC/USD": [(1, "100.2", "0")]}),
    ]
    for kind, levels in steps:
        items = []
        for sym, lv in levels.items():
            inst = hftcore.Instrument("kraken", sym, *decs[sym])
            for side, p, q in lv:
                books[sym].apply(side, inst.price(p), inst.qty(q))
            items.append((sym, lv, books[sym].checksum("kraken")))
        msgs.append(_kraken_v2_book(kind, items))
        sums.append({sym: cs for sym, _, cs in items})
    path = tmp_path / "kraken_v2_two_symbols.jsonl"
    path.write_bytes(b"\n".join(msgs) + b"\n")
    report = verify_messages("kraken", list(read_recording(path)), decs, depth=10)
    assert report.ok, report.errors
    assert report.checksums_verified == 6 and report.checksums_failed == 0
    assert report.book_updates == 3
    # a wrong checksum on the second symbol is found on the second symbol
    bad = msgs[1].replace(b'"checksum":%d' % sums[1]["ETH/USD"], b'"checksum":1')
    assert bad != msgs[1]
    path.write_bytes(b"\n".join([msgs[0], bad, msgs[2]]) + b"\n")
    report = verify_messages("kraken", list(read_recording(path)), decs, depth=10)
    assert report.checksums_failed >= 1 and any("ETH/USD" in e for e in report.errors)
