"""Levels written as JSON numbers (Deribit, HTX, Kraken Futures, Kraken v2, Bitfinex) are read
in one pass by a tight loop when written compactly, and by the general reader otherwise (a
space anywhere sends a level there).  Both must agree on every number text: the same records,
or both refuse the message."""
from __future__ import annotations

import gzip

from hypothesis import given, settings
from hypothesis import strategies as st

import hftcore
from hftcore.decoders import decoder_for

# number texts: plain decimals, and the spellings the tight loop leaves to the general reader
_DIGITS = st.text("0123456789", min_size=1, max_size=21)
_NUMBER = st.one_of(
    st.builds(lambda i, f: f"{i}.{f}" if f else i, st.from_regex(r"[1-9][0-9]{0,7}|0",
                                                                 fullmatch=True),
              st.text("0123456789", max_size=6)),
    st.builds(lambda d: d, _DIGITS),                              # leading zeros, 19+ digits
    st.builds(lambda d: d + ".", _DIGITS),                        # "1." (not JSON)
    st.builds(lambda d, e: f"{d}e{e}", _DIGITS, st.integers(-3, 3)),
    st.builds(lambda d: "-" + d, _DIGITS),
    st.sampled_from(["0", "0.0", "-0", "1.50", "27450.10", "00", "1e", ".5", "1.2.3", "+1"]),
)


def _records(d: hftcore.Decoder, msg: bytes, codes: bool = True) -> object:
    try:
        kind = d.decode(msg)
    except hftcore.DecodeError as exc:
        return ("error", exc.code if codes else None)
    return (kind, [(int(r["side"]), int(r["price"]), int(r["size"]), int(r["sequence"]))
                   for r in d.deltas])


def _same(venue: str, sym: str, compact: bytes, spaced: bytes, first: tuple[bytes, ...] = (),
          pd: int = 2, sd: int = 4, codes: bool = True) -> None:
    got = []
    for msg in (compact, spaced):
        d = decoder_for(venue, [hftcore.Instrument(venue, sym, pd, sd, instrument_id=1)])
        for m in first:
            d.decode(m)
        got.append(_records(d, msg, codes))
    assert got[0] == got[1], (compact, got)


@given(px=_NUMBER, sz=_NUMBER, action=st.sampled_from(["new", "change", "delete", "x"]))
@settings(max_examples=300)
def test_deribit_levels(px: str, sz: str, action: str) -> None:
    def msg(level: str) -> bytes:
        return ('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-P.raw",'
                '"data":{"type":"change","timestamp":1,"prev_change_id":1,"instrument_name":'
                f'"BTC-P","change_id":2,"bids":[{level},["new",1,1]],"asks":[]}}}}}}').encode()
    _same("deribit", "BTC-P", msg(f'["{action}",{px},{sz}]'), msg(f'["{action}", {px}, {sz}]'))


@given(px=_NUMBER, sz=_NUMBER)
@settings(max_examples=300)
def test_htx_levels(px: str, sz: str) -> None:
    def msg(level: str) -> bytes:
        return gzip.compress(('{"ch":"market.btcusdt.mbp.150","ts":1,"tick":{"seqNum":2,'
                              f'"prevSeqNum":1,"bids":[{level},[1,1]],"asks":[]}}}}').encode())
    _same("htx", "btcusdt", msg(f"[{px},{sz}]"), msg(f"[{px} ,{sz}]"))


@given(px=_NUMBER, sz=_NUMBER, swap=st.booleans())
@settings(max_examples=300)
def test_kraken_futures_levels(px: str, sz: str, swap: bool) -> None:
    def msg(level: str) -> bytes:
        return ('{"feed":"book_snapshot","product_id":"PI_XBTUSD","timestamp":1,"seq":5,'
                f'"bids":[{level},{{"price":1,"qty":1}}],"asks":[]}}').encode()
    fields = [f'"price":{px}', f'"qty":{sz}']
    if swap:
        fields.reverse()
    _same("kraken_futures", "PI_XBTUSD", msg("{" + ",".join(fields) + "}"),
          msg("{" + ", ".join(fields) + "}"))


@given(px=_NUMBER, count=_NUMBER, amount=_NUMBER, snapshot=st.booleans())
@settings(max_examples=300)
def test_bitfinex_levels(px: str, count: str, amount: str, snapshot: bool) -> None:
    sub = (b'{"event":"subscribed","channel":"book","chanId":5,"symbol":"tBTCUSD",'
           b'"prec":"P0","freq":"F0","len":"25"}',)

    def msg(level: str) -> bytes:
        return (f"[5,[{level},[1,1,1]],9]" if snapshot else f"[5,{level},9]").encode()
    _same("bitfinex", "tBTCUSD", msg(f"[{px},{count},{amount}]"),
          msg(f"[{px}, {count}, {amount}]"), sub)


def test_compact_levels_are_exact() -> None:
    """The tight loop's results, checked against the numbers' own text."""
    d = decoder_for("deribit", [hftcore.Instrument("deribit", "BTC-P", 1, 3, instrument_id=1)])
    m = (b'{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-P.raw",'
         b'"data":{"type":"change","timestamp":1,"prev_change_id":1,"instrument_name":"BTC-P",'
         b'"change_id":2,"bids":[["new",27450.5,0.001],["delete",27450.4,3.0]],'
         b'"asks":[["change",999999999999999.9,123.456]]}}}')
    assert d.decode(m) == hftcore.MessageKind.BOOK_UPDATE
    assert [(int(r["side"]), int(r["price"]), int(r["size"])) for r in d.deltas] == [
        (0, 274505, 1), (0, 274504, 0), (1, 9999999999999999, 123456)]
    d = decoder_for("bitfinex", [hftcore.Instrument("bitfinex", "tBTCUSD", 1, 8,
                                                    instrument_id=1)])
    d.decode(b'{"event":"subscribed","channel":"book","chanId":5,"symbol":"tBTCUSD"}')
    assert d.decode(b"[5,[[60000.5,2,-0.25],[59999,1,1.5]],77]") == \
        hftcore.MessageKind.BOOK_SNAPSHOT
    assert [(int(r["side"]), int(r["price"]), int(r["size"]), int(r["sequence"]))
            for r in d.deltas] == [(1, 600005, 25000000, 77), (0, 599990, 150000000, 77)]
    assert d.decode(b"[5,[60000.5,0,-1],78]") == hftcore.MessageKind.BOOK_UPDATE
    assert [(int(r["side"]), int(r["size"]), int(r["sequence"])) for r in d.deltas] == \
        [(1, 0, 78)]


@given(px=_NUMBER, sz=_NUMBER, order=st.permutations(["ch", "ts", "tick"]),
       extra=st.booleans(), ch=st.sampled_from(["mbp.150", "depth.step0", "mbp.refresh.20"]))
@settings(max_examples=300)
def test_htx_book_in_any_key_order(px: str, sz: str, order: list[str], extra: bool,
                                   ch: str) -> None:
    """HTX's own key order ("ch", "ts", "tick") is read in one pass; any other order, or an
    extra key, goes through the general reader: the same records either way (a message both
    refuse may be refused for another reason: the general reader validates the body first)."""
    seq = '"seqNum":2,"prevSeqNum":1' if ch == "mbp.150" else '"seqNum":2'
    parts = {"ch": f'"ch":"market.btcusdt.{ch}"', "ts": '"ts":1573199608679',
             "tick": f'"tick":{{{seq},"bids":[[{px},{sz}],[1,1]],"asks":[[2,2]]}}'}

    def msg(keys: list[str], more: bool) -> bytes:
        body = ",".join(parts[k] for k in keys) + (',"x":1' if more else "")
        return gzip.compress(("{" + body + "}").encode())
    _same("htx", "btcusdt", msg(["ch", "ts", "tick"], extra), msg(order, extra), codes=False)
    _same("htx", "btcusdt", msg(["ch", "ts", "tick"], False), msg(order, extra), codes=False)
