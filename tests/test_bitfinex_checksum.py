"""Bitfinex v2 book checksums (``cs``, conf flag 131072) verified by the engine: the C checksum
against the Python reference of ``verify`` and a CRC written out by hand; the Feed's checksum
event for a synced book only; a backtest where a wrong checksum marks that book invalid until
its next snapshot; and live, through the loopback server, a wrong checksum resyncing that
symbol only."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_helpers import DATA, Probe, run, wait_for

import hftcore
from hftcore._ext.feed import (
    CHECKSUM_BITFINEX,
    CHECKSUM_KRAKEN,
    CHECKSUM_OKX,
    EV_CHECKSUM,
    EV_DELTA,
    EV_STATUS,
    EVENT_LAST,
    Feed,
)
from hftcore.backtest import backtest
from hftcore.decoders import decoder_for
from hftcore.live import LiveEngine, LiveRunner
from hftcore.model import Instrument
from hftcore.strategy import Strategy
from hftcore.venues.bitfinex import CHECKSUM, CONF_FLAGS, SEQ_ALL, BitfinexVenue, recording_plan
from hftcore.venues.loopback_more import BitfinexLoopback
from hftcore.venues.ws import Backoff
from hftcore.verify import _js_number_text, bitfinex_checksum


def _signed(crc: int) -> int:
    return crc - (1 << 32) if crc >= 1 << 31 else crc


# -- the checksum ---------------------------------------------------------------------------------

def test_checksum_of_a_book_written_out() -> None:
    # bids 60000 x 1.5e-7 (JavaScript's exponent form below 1e-6), 59999.9 x 3; asks
    # 60001 x 2, 60002.5 x 0.000001 (still plain text), 60003 x 10: interleaved, asks negative
    b = hftcore.L2Book(1, 8)
    b.apply(0, 600000, 15)
    b.apply(0, 599999, 300000000)
    b.apply(1, 600010, 200000000)
    b.apply(1, 600025, 100)
    b.apply(1, 600030, 1000000000)
    text = "60000:1.5e-7:60001:-2:59999.9:3:60002.5:-0.000001:60003:-10"
    assert b.checksum("bitfinex") == _signed(zlib.crc32(text.encode()))
    assert b.checksum("bitfinex") == bitfinex_checksum(b, 1, 8)
    assert b.checksum("BITFINEX") == b.checksum("bitfinex")
    assert hftcore.L2Book(0, 0).checksum("bitfinex") == 0          # crc32 of nothing
    with pytest.raises(ValueError, match="bitfinex"):
        b.checksum("bitfinx")


def test_checksum_is_signed_int32() -> None:
    # find a one-level book whose CRC has the top bit set: Bitfinex sends it negative
    for px in range(1, 200):
        b = hftcore.L2Book(0, 0)
        b.apply(0, px, 1)
        crc = zlib.crc32(f"{px}:1".encode())
        if crc >= 1 << 31:
            assert b.checksum("bitfinex") == crc - (1 << 32) < 0
            break
    else:
        pytest.fail("no CRC with the top bit set")


def test_only_the_top_25_levels_count() -> None:
    b = hftcore.L2Book(0, 0)
    for i in range(30):
        b.apply(0, 1000 - i, 1)
    before = b.checksum("bitfinex")
    b.apply(0, 1000 - 29, 7)                 # the 30th bid: not in the text
    assert b.checksum("bitfinex") == before
    b.apply(0, 1000 - 24, 7)                 # the 25th: in it
    assert b.checksum("bitfinex") != before


@pytest.mark.parametrize(("value", "decimals", "text"), [
    (15, 8, "1.5e-7"), (100, 8, "0.000001"), (99, 8, "9.9e-7"), (1, 18, "1e-18"),
    (123456789, 18, "1.23456789e-10"), (-2, 9, "-2e-9"), (5000, 3, "5"), (1, 0, "1"),
    (0, 5, "0"), (2**63 - 1, 0, "9223372036854775807"), (-(2**63), 18, "-9.223372036854775808"),
    (10, 7, "0.000001"), (1200, 3, "1.2"),
])
def test_javascript_text_examples(value: int, decimals: int, text: str) -> None:
    """The reference formatter on the cases the C one must match (one level of a book: the
    checksum is the CRC of "price:size")."""
    assert _js_number_text(value, decimals) == text
    if value > 0:
        b = hftcore.L2Book(0, decimals)
        b.apply(0, 7, value)
        assert b.checksum("bitfinex") == _signed(zlib.crc32(f"7:{text}".encode()))
        a = hftcore.L2Book(decimals, 0)
        a.apply(1, value, 3)
        assert a.checksum("bitfinex") == _signed(zlib.crc32(f"{text}:-3".encode()))


_size = st.one_of(st.integers(1, 99), st.integers(1, 10**6), st.integers(1, 10**18),
                  st.sampled_from([1, 10, 15, 99, 100, 101, 999999, 10**6, 2**63 - 1]))
_price = st.one_of(st.integers(1, 10**4), st.integers(1, 10**12), st.integers(1, 2**62 - 1))


@settings(max_examples=300, deadline=None)
@given(pd=st.integers(0, 18), sd=st.integers(0, 18),
       levels=st.lists(st.tuples(st.integers(0, 1), _price, _size), max_size=70))
def test_checksum_matches_the_python_reference(pd: int, sd: int,
                                               levels: list[tuple[int, int, int]]) -> None:
    b = hftcore.L2Book(pd, sd)
    for side, px, q in levels:
        # keep the book uncrossed: bids below 2**62, asks above
        b.apply(side, px if side == 0 else px + 2**62, q)
    assert b.checksum("bitfinex") == bitfinex_checksum(b, pd, sd)


# -- the feed and the engine ----------------------------------------------------------------------

def _sub(chan: int, sym: str) -> bytes:
    return (f'{{"event":"subscribed","channel":"book","chanId":{chan},"symbol":"{sym}",'
            f'"prec":"P0","freq":"F0","len":"25","pair":"{sym[1:]}"}}').encode()


def test_constants_and_subscriptions() -> None:
    assert len({CHECKSUM_KRAKEN, CHECKSUM_OKX, CHECKSUM_BITFINEX}) == 3
    assert CONF_FLAGS == SEQ_ALL | CHECKSUM == 65536 | 131072
    plan = recording_plan(["tBTCUSD"])
    assert plan.subscriptions[0] == b'{"event":"conf","flags":196608}'
    venue = BitfinexVenue()
    LiveEngine([Instrument("bitfinex", "tBTCUSD", 1, 8)], mode="live").add_venue(venue)
    assert venue.md_subscriptions()[0] == b'{"event":"conf","flags":196608}'
    assert BitfinexVenue.check_valid


def test_feed_emits_a_checksum_event_for_a_synced_book_only() -> None:
    d = decoder_for("bitfinex", [Instrument("bitfinex", "tBTCUSD", 1, 8, instrument_id=0),
                                 Instrument("bitfinex", "tETHUSD", 1, 8, instrument_id=1)])
    f = Feed(d, "bitfinex", 2)
    f.feed(_sub(9, "tBTCUSD"), 1)
    f.feed(_sub(10, "tETHUSD"), 2)
    f.feed(_sub(11, "tXRPUSD"), 3)                        # not in the table
    f.feed(b'[9,"cs",12345,1]', 4)                        # before the snapshot: nothing to check
    f.feed(b'[11,"cs",12345,2]', 5)                       # no book here
    assert f.take().size == 0
    f.feed(b"[9,[[100,1,5],[101,1,-7]],3]", 6)
    f.take()
    f.feed(b'[9,"cs",-42,4]', 7)
    ev = f.take()
    assert len(ev) == 1
    e = ev[0]
    assert (int(e["kind"]), int(e["instrument"]), int(e["side"]), int(e["ref"])) == \
        (EV_CHECKSUM, 0, CHECKSUM_BITFINEX, -42)
    assert int(e["flags"]) & EVENT_LAST and int(e["local_ts"]) == 7
    f.feed(b'[10,"cs",-42,5]', 8)                         # tETHUSD has no snapshot yet
    assert f.take().size == 0
    f.invalidate(0)                                       # resyncing: not checked
    f.take()
    f.feed(b'[9,"cs",-42,6]', 9)
    assert f.take().size == 0
    assert f.gaps == 0 and f.decode_errors == 0
    f.feed(b'[9,"cs","x",7]', 10)                         # refused, counted, no event
    assert f.decode_errors == 1 and f.take().size == 0


class _Status(Strategy):
    def __init__(self) -> None:
        super().__init__()
        self.status: list[tuple[str, bool]] = []

    def on_book_status(self, instrument, valid):  # type: ignore[no-untyped-def]
        self.status.append((instrument.symbol, valid))


def _bfx_stream(wrong: bool) -> list[str]:
    """A Bitfinex recording: two books, each update followed by its "cs" (computed by the
    Python reference from a book kept here); ``wrong``: one of tBTCUSD's is off by one, then
    the book is subscribed again (a new snapshot)."""
    insts = {"tBTCUSD": (9, 1, 8), "tETHUSD": (10, 2, 8)}
    books = {s: hftcore.L2Book(p, q) for s, (_, p, q) in insts.items()}
    lines = ['{"event":"conf","status":"OK","flags":196608}']
    lines += [_sub(c, s).decode() for s, (c, _, _) in insts.items()]
    seq = 0

    def msg(chan: int, body: str) -> None:
        nonlocal seq
        seq += 1
        lines.append(f"[{chan},{body},{seq}]")

    def book_msg(sym: str, chan: int, levels: list[tuple[str, int, str]], bad: bool = False
                 ) -> None:
        inst = Instrument("bitfinex", sym, insts[sym][1], insts[sym][2])
        b = books[sym]
        if len(levels) > 1:
            b.clear()
            body = "[" + ",".join(f"[{p},{c},{a}]" for p, c, a in levels) + "]"
        else:
            body = "[{},{},{}]".format(*levels[0])
        for p, c, a in levels:
            side = 0 if a[0] != "-" else 1
            b.apply(side, inst.price(p), 0 if c == 0 else inst.qty(a.lstrip("-")))
        msg(chan, body)
        cs = bitfinex_checksum(b, insts[sym][1], insts[sym][2])
        msg(chan, f'"cs",{cs + 1 if bad else cs}')

    book_msg("tBTCUSD", 9, [("60000.5", 1, "1.25"), ("60000", 2, "0.00000015"),
                            ("60001", 1, "-2"), ("60002.5", 3, "-0.5")])
    book_msg("tETHUSD", 10, [("3000.25", 1, "4"), ("3001.5", 1, "-0.000002")])
    book_msg("tBTCUSD", 9, [("60000.5", 0, "1")])
    book_msg("tETHUSD", 10, [("3000.5", 2, "0.7")])
    book_msg("tBTCUSD", 9, [("60001", 2, "-3.5")], bad=wrong)
    book_msg("tBTCUSD", 9, [("59999", 1, "9")])
    book_msg("tETHUSD", 10, [("3001.5", 0, "-1")])
    if wrong:                                   # the venue layer resubscribes the book
        lines.append('{"event":"unsubscribed","status":"OK","chanId":9}')
        lines.append(_sub(12, "tBTCUSD").decode())
        book_msg("tBTCUSD", 12, [("59999", 1, "9"), ("60000", 2, "0.00000015"),
                                 ("60001", 2, "-3.5"), ("60002.5", 3, "-0.5")])
    book_msg("tBTCUSD", 12 if wrong else 9, [("60002.5", 1, "-0.25")])
    book_msg("tETHUSD", 10, [("3002", 1, "-1.5")])
    return lines


def _backtest(tmp_path: Path, wrong: bool) -> tuple[dict[str, dict[str, int]], _Status,
                                                      list[str]]:
    lines = _bfx_stream(wrong)
    path = tmp_path / "bfx.txt"
    path.write_text("".join(f"{1.0 + k / 1000:.3f}: {line}\n" for k, line in enumerate(lines)))
    insts = [Instrument("bitfinex", "tBTCUSD", 1, 8), Instrument("bitfinex", "tETHUSD", 2, 8)]
    s = _Status()
    r = backtest(s, path, insts, venue="bitfinex")
    assert r.stats["decode_errors"] == 0 and r.stats["gaps"] == 0
    return r.stats["instruments"], s, r.stats["invalid_books"]


def test_backtest_verifies_every_checksum(tmp_path: Path) -> None:
    counters, s, invalid = _backtest(tmp_path, wrong=False)
    btc, eth = counters["bitfinex:tBTCUSD"], counters["bitfinex:tETHUSD"]
    assert btc["checksums_ok"] == 5 and eth["checksums_ok"] == 4
    assert btc["checksums_failed"] == eth["checksums_failed"] == 0
    assert s.status == [("tBTCUSD", True), ("tETHUSD", True)] and invalid == []


def test_backtest_wrong_checksum_invalidates_that_book_until_its_snapshot(
        tmp_path: Path) -> None:
    counters, s, invalid = _backtest(tmp_path, wrong=True)
    btc, eth = counters["bitfinex:tBTCUSD"], counters["bitfinex:tETHUSD"]
    assert btc["checksums_failed"] == 1 and eth["checksums_failed"] == 0
    assert btc["checksums_ok"] == 5 and eth["checksums_ok"] == 4
    assert s.status == [("tBTCUSD", True), ("tETHUSD", True), ("tBTCUSD", False),
                        ("tBTCUSD", True)]
    assert invalid == [] and btc["valid"] and eth["valid"]


# -- live, through the loopback server ------------------------------------------------------------

RECORDING = DATA / "bitfinex" / "ws_v2_2021-04-17.txt"
SYMBOLS = ["tBFTUSD", "tIOTETH", "tDOGUSD", "tODEUSD"]


def _matches(server: BitfinexLoopback, engine: LiveEngine, i: int, sym: str) -> bool:
    inst = engine.instruments[i]
    bids, asks = server.bfx_books[sym].top(25)
    bp, bq, ap, aq = engine.books[i].depth(25)
    return ([(int(p), int(q)) for p, q in zip(bp, bq, strict=True)]
            == [(inst.price(format(p, "f")), inst.qty(format(a, "f"))) for p, _, a in bids]
            and [(int(p), int(q)) for p, q in zip(ap, aq, strict=True)]
            == [(inst.price(format(p, "f")), inst.qty(format(-a, "f"))) for p, _, a in asks])


@pytest.mark.parametrize("corrupt", [False, True])
def test_live_checksums_and_resync_of_that_symbol_only(corrupt: bool) -> None:
    instruments = [Instrument("bitfinex", s, 10, 8) for s in SYMBOLS]

    async def main() -> None:
        server = BitfinexLoopback(instruments, RECORDING, manual=True)
        async with server:
            engine = LiveEngine(instruments, mode="live")
            probe = Probe()
            engine.add_strategy(probe)
            venue = BitfinexVenue(ws_url=server.ws_url, rest_url=server.rest_url,
                                  backoff=Backoff(0.02, 0.2))
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: any(getattr(c, "subscribed", False)
                                           for c in server._clients), what="subscription")
                n = len(server.frames)
                server.send_next(n // 2)
                await wait_for(lambda: all(engine.core.is_valid(i)
                                           for i in range(len(instruments))),
                               what="every book valid")
                before = len(probe.status)
                sym = "tDOGUSD"
                idx = SYMBOLS.index(sym)
                ok_at_resync = 0
                if corrupt:
                    server.faults.corrupt_checksum.add(sym)
                    server.send_next(60)
                    await wait_for(lambda: server.stats["resubscribed"] == 1
                                   and engine.core.is_valid(idx), what="resynced")
                    ok_at_resync = engine.core.counters(idx)["checksums_ok"]
                server.send_next(n)
                await wait_for(lambda: server.done.is_set(), what="replay done")
                others = [i for i in range(len(SYMBOLS)) if i != idx or not corrupt]

                def checked(i: int) -> int:
                    c = engine.core.counters(i)
                    return int(c["checksums_ok"] + c["checksums_failed"])

                # every checksum of a synced book is checked (the symbol that resyncs: those
                # sent before its new snapshot are not)
                await wait_for(lambda: all(checked(i) == server.checksums_sent.get(SYMBOLS[i], 0)
                                           for i in others), what="checksums checked")
                if corrupt:
                    await wait_for(lambda: engine.core.counters(idx)["checksums_ok"]
                                   > ok_at_resync + 20, what="checksums after the resync")
                counters = [engine.core.counters(i) for i in range(len(instruments))]
                assert sum(c["checksums_ok"] for c in counters) > 100
                failed = [c["checksums_failed"] for c in counters]
                assert venue.feed is not None
                assert venue.feed.decode_errors == 0 and venue.feed.gaps == 0
                after = probe.status[before:]
                if corrupt:
                    assert server.stats["checksums_corrupted"] == 1
                    assert failed == [1 if i == idx else 0 for i in range(len(SYMBOLS))]
                    assert (sym, False) in after and after[-1] == (sym, True)
                    assert {s for s, _ in after} == {sym}      # the others were not touched
                    assert venue.resyncs == 1
                else:
                    assert failed == [0] * len(SYMBOLS) and after == []
                    assert server.stats["resubscribed"] == 0
                for i, s in enumerate(SYMBOLS):
                    assert engine.core.is_valid(i), s
                    assert _matches(server, engine, i, s), s
            finally:
                await runner.stop()
    run(main(), 90)


def test_loopback_sends_no_checksums_unless_asked() -> None:
    """A client whose conf has only 65536 gets the recording as recorded (no "cs")."""
    instruments = [Instrument("bitfinex", s, 10, 8) for s in SYMBOLS]

    class SeqOnly(BitfinexVenue):
        def md_subscriptions(self) -> list[bytes]:
            subs = super().md_subscriptions()
            return [b'{"event":"conf","flags":65536}', *subs[1:]]

    async def main() -> None:
        server = BitfinexLoopback(instruments, RECORDING, manual=True)
        async with server:
            engine = LiveEngine(instruments, mode="live")
            venue = SeqOnly(ws_url=server.ws_url, rest_url=server.rest_url,
                            backoff=Backoff(0.02, 0.2))
            runner = LiveRunner(engine, [venue])
            try:
                await runner.start()
                await wait_for(lambda: any(getattr(c, "subscribed", False)
                                           for c in server._clients), what="subscription")
                server.send_next(len(server.frames))
                await wait_for(lambda: all(engine.core.is_valid(i)
                                           for i in range(len(instruments))),
                               what="every book valid")
                assert server.stats["checksums_sent"] == 0
                assert all(engine.core.counters(i)["checksums_ok"] == 0
                           for i in range(len(instruments)))
                assert venue.feed is not None and venue.feed.gaps == 0
            finally:
                await runner.stop()
    run(main(), 60)


def test_events_constants_distinct() -> None:
    assert len({EV_DELTA, EV_STATUS, EV_CHECKSUM}) == 3


def test_loopback_book_keeping_survives_bad_frames() -> None:
    """Frames that are not levels are replayed as they are; the server's book and its checksum
    follow the good ones."""
    from hftcore.venues.loopback import MarketFrame

    server = BitfinexLoopback([Instrument("bitfinex", "tBTCUSD", 1, 8)])
    frames = [_sub(9, "tBTCUSD"), b"[9,[[100,1,5],[101,1,-7]],1]", b'[9,["x",1,5],2]',
              b"[9,[100,1],3]", b"[9,[[100,1,null]],4]", b"[9,[100.5,2,0.25],5]", b"[9,"]
    for k, payload in enumerate(frames):
        assert server.before_send(MarketFrame(k, "", "md", payload)) == payload
    book = server.bfx_books["tBTCUSD"]
    ref = hftcore.L2Book(1, 8)
    ref.apply(0, 1005, 25000000)
    ref.apply(0, 1000, 500000000)
    ref.apply(1, 1010, 700000000)
    assert book.checksum() == bitfinex_checksum(ref, 1, 8) == ref.checksum("bitfinex")
