"""A scripted venue for order-manager tests: each order has a true fate, and the venue's messages
about it arrive late, twice and out of order.  Deterministic for a seed, so a child process and
the test can replay the same stream (journal crash test).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hftcore import Instrument, Liquidity, OrderManager, OrderStatus, Side, VenueOrder
from hftcore.orders import OrderError

S = OrderStatus
BTC = Instrument("sim", "BTCUSDT", 2, 5, tick=5, lot=100, base="BTC", quote="USDT")
ETH = Instrument("sim", "ETHUSDT", 2, 4, base="ETH", quote="USDT")
INSTRUMENTS = (BTC, ETH)
MID = {BTC.symbol: BTC.price("50000"), ETH.symbol: ETH.price("3000")}


@dataclass
class Truth:
    """What really happens to an order at the venue."""

    cid: str
    instrument: Instrument
    side: Side
    size: int
    price: int
    final: OrderStatus
    fills: list[tuple[str, int, int, int]] = field(default_factory=list)  # tid, qty, px, liq
    pending: list[tuple[Any, ...]] = field(default_factory=list)  # events not yet delivered
    delivered: list[tuple[Any, ...]] = field(default_factory=list)


class Scenario:
    """Drives an OrderManager one journaled call per step (mostly), from a seed."""

    def __init__(self, seed: int, n_orders: int = 30, session: str = "sim1",
                 p_dup: float = 0.1, p_reorder: float = 0.3, p_drop: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.session = session
        self.n_orders = n_orders
        self.p_dup = p_dup
        self.p_reorder = p_reorder
        self.p_drop = p_drop
        self.t = 1_000
        self.created = 0
        self.truth: dict[str, Truth] = {}
        self.new: list[str] = []
        self.trade_seq = 0

    def manager(self, **kw: Any) -> OrderManager:
        return OrderManager(session=self.session, clock=lambda: self.t, **kw)

    # -- the venue's truth for a submitted order ------------------------------------------------
    def _fate(self, o: Truth) -> None:
        rng = self.rng
        kind = rng.choice(["reject", "open", "partial", "filled", "filled", "cancel", "expire"])
        ev = o.pending
        if kind == "reject":
            o.final = S.REJECTED
            ev.append(("reject", o.cid, "insufficient balance"))
            return
        ev.append(("ack", o.cid, f"v{o.cid}"))
        lot = o.instrument.lot
        lots = o.size // lot
        if kind == "filled":
            k = rng.randint(1, min(4, lots))
        elif kind in ("partial", "cancel", "expire"):
            k = rng.randint(0 if kind != "partial" else 1, min(3, lots - 1)) if lots > 1 else 0
        else:
            k = 0
        cuts = sorted(rng.sample(range(1, lots), k - 1)) if k > 1 else []
        if kind == "filled":
            bounds = [0, *cuts, lots]
        else:
            bounds = [0, *sorted(rng.sample(range(1, lots), k))] if k else [0]
        for a, b in itertools.pairwise(bounds):
            self.trade_seq += 1
            tick = o.instrument.tick
            px = o.price - (rng.randint(0, 3) * tick if o.side == Side.BUY else
                            -rng.randint(0, 3) * tick)
            f = (f"t{self.trade_seq}", (b - a) * lot, px, rng.randint(0, 1))
            o.fills.append(f)
            ev.append(("fill", o.cid, *f))
        filled = sum(f[1] for f in o.fills)
        if kind == "filled":
            o.final = S.FILLED
        elif kind == "cancel":
            o.final = S.CANCELED
            ev.append(("canceled", o.cid))
        elif kind == "expire":
            o.final = S.EXPIRED
            ev.append(("expired", o.cid))
        else:
            o.final = S.PARTIALLY_FILLED if filled else S.ACCEPTED

    # -- one step -------------------------------------------------------------------------------
    def step(self, om: OrderManager) -> bool:
        """Do one thing; False when nothing is left to do."""
        rng = self.rng
        self.t += rng.randint(1, 1000)
        undelivered = [o for o in self.truth.values() if o.pending]
        choices = []
        if self.created < self.n_orders:
            choices += ["create"] * 2
        if self.new:
            choices += ["submit"] * 3
        if undelivered:
            choices += ["deliver"] * 8
        if not choices:
            return False  # everything created, submitted and delivered
        if any(o.delivered for o in self.truth.values()):
            choices += ["duplicate"]
        if self.truth or self.new:
            choices += ["cancel"]
        what = rng.choice(choices)
        if what == "create" or self.created < len(INSTRUMENTS):
            inst = INSTRUMENTS[self.created % 2] if self.created < 2 else rng.choice(INSTRUMENTS)
            side = rng.choice((Side.BUY, Side.SELL))
            lots = rng.randint(1, 8)
            off = rng.randint(-20, 20) * inst.tick
            o = om.create(inst, side, lots * inst.lot, MID[inst.symbol] + off)
            self.created += 1
            self.new.append(o.client_order_id)
        elif what == "submit":
            cid = self.new.pop(rng.randrange(len(self.new)))
            order = om[cid]
            if order.status != S.NEW:  # canceled while NEW
                return True
            if om.submit(order):
                return True
            t = Truth(cid, order.instrument, order.side, order.size, order.price, S.NEW)
            self._fate(t)
            self.truth[cid] = t
        elif what == "deliver":
            o = rng.choice(undelivered)
            i = rng.randrange(len(o.pending)) if rng.random() < self.p_reorder else 0
            ev = o.pending.pop(i)
            if self.p_drop and rng.random() < self.p_drop:
                return True  # lost on the way
            self._send(om, o, ev)
        elif what == "duplicate":
            o = rng.choice([o for o in self.truth.values() if o.delivered])
            self._send(om, o, rng.choice(o.delivered), record=False)
        else:
            pool = list(self.truth) + self.new
            cid = rng.choice(pool)
            order = om[cid]
            before = order.status
            try:
                om.cancel(cid)
            except OrderError:
                assert before.is_terminal, before
                return True
            if before == S.NEW or before == S.PENDING_CANCEL:
                return True
            t = self.truth[cid]
            if t.final in (S.ACCEPTED, S.PARTIALLY_FILLED):
                t.final = S.CANCELED
                t.pending.append(("canceled", cid))
            elif t.final in (S.FILLED, S.REJECTED):
                t.pending.append(("cancel_reject", cid, "unknown order"))
            # CANCELED/EXPIRED: the venue's own close answers it
        return True

    def _send(self, om: OrderManager, o: Truth, ev: tuple[Any, ...], record: bool = True) -> None:
        kind = ev[0]
        if record:
            o.delivered.append(ev)
        if kind == "ack":
            om.on_ack(ev[1], ev[2])
        elif kind == "reject":
            om.on_reject(ev[1], ev[2])
        elif kind == "fill":
            om.on_fill(ev[1], ev[2], ev[3], ev[4], Liquidity(ev[5]))
        elif kind == "canceled":
            om.on_canceled(ev[1])
        elif kind == "expired":
            om.on_expired(ev[1])
        elif kind == "cancel_reject":
            om.on_cancel_reject(ev[1], ev[2])
        else:  # pragma: no cover
            raise AssertionError(kind)

    def drain(self, om: OrderManager) -> None:
        """Deliver every pending event (in order)."""
        for o in self.truth.values():
            while o.pending:
                self._send(om, o, o.pending.pop(0))

    # -- what the venue would report ------------------------------------------------------------
    def venue_open_orders(self) -> list[VenueOrder]:
        return [
            VenueOrder(t.cid, f"v{t.cid}", t.price, t.size, sum(f[1] for f in t.fills))
            for t in self.truth.values() if t.final in (S.ACCEPTED, S.PARTIALLY_FILLED)
        ]

    def venue_fills(self) -> list[Any]:
        from hftcore import Fill

        return [
            Fill(t.cid, tid, t.side, q, px, Liquidity(liq))
            for t in self.truth.values() for tid, q, px, liq in t.fills
        ]

    def venue_closed(self) -> dict[str, OrderStatus]:
        return {t.cid: t.final for t in self.truth.values() if t.final.is_terminal}


# -- a from-scratch portfolio over fills, written independently (Fraction rounding) ----------------
def reference_positions(fills: list[tuple[Instrument, Side, int, int, int]]) -> dict[str, dict]:
    """fills: (instrument, side, qty, price, fee) in booking order -> figures per symbol."""
    out: dict[str, dict[str, int]] = {}
    for inst, side, qty, price, fee in fills:
        p = out.setdefault(inst.symbol, {"net": 0, "cost": 0, "realized": 0, "fees": 0,
                                         "turnover": 0, "cash": 0})
        p["fees"] += fee
        p["turnover"] += price * qty
        signed = qty if side == Side.BUY else -qty
        p["cash"] -= signed * price
        net = p["net"]
        if net == 0 or (net > 0) == (signed > 0):
            p["net"] += signed
            p["cost"] += signed * price
            continue
        closing = min(abs(signed), abs(net))
        removed = round(Fraction(p["cost"] * closing, abs(net)))  # half-even
        p["realized"] += (closing * price if net > 0 else -closing * price) - removed
        p["cost"] -= removed
        p["net"] += closing if signed > 0 else -closing
        rest = abs(signed) - closing
        if rest:
            p["net"] += rest if signed > 0 else -rest
            p["cost"] += (rest if signed > 0 else -rest) * price
    return out
