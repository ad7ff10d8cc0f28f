"""Books rebuilt from real recorded exchange data: every checksum verifies, no book crosses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hftcore import L2Book, fixed

DATA = Path(__file__).parent / "data"


def messages(path: Path) -> Iterator[Any]:
    """Received JSON messages of a recording (`<recv_ts>: <json>` lines)."""
    with path.open("rb") as f:
        for line in f:
            head, sep, body = line.partition(b": ")
            if not sep or b" " in head:  # connection / sent / REST lines
                continue
            yield orjson.loads(body)


def decimals(text: str) -> int:
    return len(text) - text.index(".") - 1 if "." in text else 0


def test_kraken_v1_all_checksums() -> None:
    path = DATA / "kraken" / "ws_v1_book_2021-04-17.txt"
    books: dict[str, L2Book] = {}
    checked = 0
    for msg in messages(path):
        if not isinstance(msg, list):
            continue
        pair = msg[-1]
        parts = [p for p in msg[1:-2] if isinstance(p, dict)]
        if "as" in parts[0] or "bs" in parts[0]:
            snap = parts[0]
            pd = decimals(snap["as"][0][0])
            sd = decimals(snap["as"][0][1])
            book = books[pair] = L2Book(pd, sd, max_depth=1000)
            for side, key in ((0, "bs"), (1, "as")):
                for px, sz, _ts in snap[key]:
                    book.apply(side, fixed.parse(px, pd), fixed.parse(sz, sd))
            continue
        book = books[pair]
        checksum = None
        for part in parts:
            for side, key in ((0, "b"), (1, "a")):
                for level in part.get(key, ()):
                    px = fixed.parse(level[0], book.price_decimals)
                    sz = fixed.parse(level[1], book.size_decimals)
                    book.apply(side, px, sz)
            checksum = part.get("c", checksum)
        assert checksum is not None
        assert book.checksum("kraken") == int(checksum), (pair, checked)
        checked += 1
        assert not book.is_crossed
    assert checked == 4269
    assert len(books) == 10


def test_okx_v5_all_checksums() -> None:
    path = DATA / "okx" / "ws_v5_public_2022-05-13_part1.txt"
    msgs = [
        m
        for m in messages(path)
        if isinstance(m, dict) and m.get("arg", {}).get("channel") == "books" and "data" in m
    ]
    # OKX sends trimmed text: the instrument's decimals are the most seen in its strings
    pdec: dict[str, int] = {}
    sdec: dict[str, int] = {}
    for m in msgs:
        inst = m["arg"]["instId"]
        for d in m["data"]:
            for lv in d["asks"] + d["bids"]:
                pdec[inst] = max(pdec.get(inst, 0), decimals(lv[0]))
                sdec[inst] = max(sdec.get(inst, 0), decimals(lv[1]))
    books: dict[str, L2Book] = {}
    checked = 0
    for m in msgs:
        inst = m["arg"]["instId"]
        pd, sd = pdec[inst], sdec[inst]
        if m["action"] == "snapshot":
            books[inst] = L2Book(pd, sd)
        book = books[inst]
        for d in m["data"]:
            for side, key in ((0, "bids"), (1, "asks")):
                for lv in d[key]:
                    book.apply(side, fixed.parse(lv[0], pd), fixed.parse(lv[1], sd))
            assert book.checksum("okx") == d["checksum"], (inst, checked)
            checked += 1
        assert not book.is_crossed
    assert checked == len(msgs) == 103
    assert len(books) == 3


def test_coinbase_level2_never_crossed() -> None:
    path = DATA / "coinbase" / "exchange_ws_2021-04-17.txt"
    msgs = [m for m in messages(path) if m.get("type") in ("snapshot", "l2update")]
    pdec: dict[str, int] = {}
    sdec: dict[str, int] = {}
    for m in msgs:
        levels = m["bids"] + m["asks"] if m["type"] == "snapshot" else [c[1:] for c in m["changes"]]
        for px, sz in levels:
            pdec[m["product_id"]] = max(pdec.get(m["product_id"], 0), decimals(px))
            sdec[m["product_id"]] = max(sdec.get(m["product_id"], 0), decimals(sz))
    books: dict[str, L2Book] = {}
    updates = 0
    for m in msgs:
        pid = m["product_id"]
        pd, sd = pdec[pid], sdec[pid]
        if m["type"] == "snapshot":
            book = books[pid] = L2Book(pd, sd)
            for side, key in ((0, "bids"), (1, "asks")):
                for px, sz in m[key]:
                    book.apply(side, fixed.parse(px, pd), fixed.parse(sz, sd))
        else:
            book = books[pid]
            for side_text, px, sz in m["changes"]:
                book.apply(0 if side_text == "buy" else 1, fixed.parse(px, pd), fixed.parse(sz, sd))
                updates += 1
        assert not book.is_crossed and book.best_bid is not None and book.best_ask is not None
    assert all(b.crosses == 0 and b.missing_deletes == 0 for b in books.values())
    assert len(books) == 10 and updates > 1000


def test_bybit_snapshot_and_deltas_never_crossed() -> None:
    path = DATA / "bybit" / "v5_linear_orderbook500_XRPUSDT_2024-12-01.jsonl"
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]
    assert lines[0]["type"] == "snapshot"
    book = L2Book(4, 0, max_depth=500)
    last_u = None
    for m in lines:
        d = m["data"]
        if m["type"] == "snapshot":
            book.clear()
        else:
            assert d["u"] == last_u + 1
        for side, key in ((0, "b"), (1, "a")):
            for px, sz in d[key]:
                book.apply(side, fixed.parse(px, 4), fixed.parse(sz, 0))
        last_u = d["u"]
        book.sequence = d["u"]
        assert not book.is_crossed
        assert book.best_bid is not None and book.best_ask is not None
    # a message may cross the book between its bid and ask rows (counted in `crosses`); at
    # message boundaries, checked above, it never is
    assert book.sequence == last_u
    assert 0 < len(book.levels(0)) <= 500


@pytest.mark.parametrize("n", [1, 3])
def test_kraken_book_replayed_as_deltas(n: int) -> None:
    """The same Kraken stream fed as BookDelta batches gives the same checksums."""
    import numpy as np

    from hftcore._ext.book import BOOK_DELTA_DTYPE, DELTA_FLAG_CLEAR, DELTA_FLAG_SNAPSHOT

    path = DATA / "kraken" / "ws_v1_book_2021-04-17.txt"
    books: dict[str, L2Book] = {}
    seen = 0
    for msg in messages(path):
        if not isinstance(msg, list):
            continue
        pair = msg[-1]
        parts = [p for p in msg[1:-2] if isinstance(p, dict)]
        snap = "as" in parts[0] or "bs" in parts[0]
        if snap:
            pd = decimals(parts[0]["as"][0][0])
            sd = decimals(parts[0]["as"][0][1])
            books[pair] = L2Book(pd, sd, max_depth=1000)
        book = books[pair]
        rows = []
        for part in parts:
            for side, key in ((0, "b"), (1, "a"), (0, "bs"), (1, "as")):
                for level in part.get(key, ()):
                    rows.append(
                        (
                            0,
                            0,
                            seen,
                            fixed.parse(level[0], book.price_decimals),
                            fixed.parse(level[1], book.size_decimals),
                            0,
                            side,
                            DELTA_FLAG_SNAPSHOT if snap else 0,
                            0,
                        )
                    )
        recs = np.array(rows, dtype=BOOK_DELTA_DTYPE)
        if snap:
            recs["flags"][0] |= DELTA_FLAG_CLEAR
        for i in range(0, len(recs), n):
            book.apply_deltas(recs[i : i + n])
        if not snap:
            assert book.checksum("kraken") == int(parts[-1]["c"])
        assert book.sequence == seen
        seen += 1
    assert seen == 4279
