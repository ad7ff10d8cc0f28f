"""Request rate limits as token buckets with the venue's weights.

A venue states limits as "N weight per window" (Binance: 6000 request weight a minute, 50
orders per 10 s, 160,000 orders a day; Bybit, OKX: N requests per second per endpoint).  Each
:class:`Bucket` holds ``limit`` tokens; a request takes its weight in tokens, and every token
comes back exactly one ``window`` after it was taken.  So no interval of the window's length -
whatever its alignment to the venue's clock - ever carries more than ``limit``: a plain
refill-at-a-constant-rate bucket could let through up to twice the limit across a fixed window
boundary, which is how accounts get banned.

:meth:`RateLimiter.try_acquire` takes every bucket's tokens or none and tells why not;
:meth:`RateLimiter.acquire` waits until they are available (or refuses when the wait would be
longer than allowed).  :meth:`RateLimiter.block` stops everything until a time the venue named
(HTTP 429 / 418 ``Retry-After``), and :meth:`RateLimiter.observe` folds in the usage the venue
reports, so requests sent by other processes on the same key count too.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Bucket", "RateLimitExceeded", "RateLimiter"]


class RateLimitExceeded(Exception):
    """A request would exceed a rate limit; ``reason`` says which, ``retry_after`` when (s)."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Bucket:
    """``limit`` weight per ``window`` seconds, named as the venue names it."""

    name: str
    limit: int
    window: float

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit <= 0:
            raise ValueError(f"bucket {self.name}: limit must be an int > 0, got {self.limit!r}")
        if not self.window > 0:
            raise ValueError(f"bucket {self.name}: window must be > 0 s")


class _State:
    __slots__ = ("bucket", "limit", "spent", "used", "window")

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.limit = bucket.limit
        self.window = bucket.window
        self.spent: deque[tuple[float, int]] = deque()   # (time taken, weight)
        self.used = 0

    def expire(self, now: float) -> None:
        horizon = now - self.bucket.window
        spent = self.spent
        while spent and spent[0][0] <= horizon:
            self.used -= spent.popleft()[1]

    def wait_for(self, weight: int, now: float) -> float:
        """Seconds until ``weight`` tokens are free (0: now; inf: never, weight > limit)."""
        free = self.bucket.limit - self.used
        if weight <= free:
            return 0.0
        if weight > self.bucket.limit:
            return float("inf")
        need = weight - free
        for t, w in self.spent:
            need -= w
            if need <= 0:
                return t + self.bucket.window - now
        return float("inf")  # pragma: no cover - used > limit cannot happen


class RateLimiter:
    """A venue's buckets; a request's cost is ``{bucket name: weight}``.

    Parameters
    ----------
    buckets : iterable of Bucket
    clock : callable
        Seconds (``time.monotonic``).
    """

    def __init__(self, buckets: Iterable[Bucket], clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self._b: dict[str, _State] = {}
        for b in buckets:
            if not isinstance(b, Bucket):
                raise TypeError(f"buckets: expected Bucket, got {b!r}")
            if b.name in self._b:
                raise ValueError(f"buckets: {b.name} given twice")
            self._b[b.name] = _State(b)
        self.clock = clock
        self.blocked_until = 0.0
        self.block_reason = ""
        self.refused = 0
        self.waited = 0

    @property
    def buckets(self) -> list[Bucket]:
        """The buckets."""
        return [s.bucket for s in self._b.values()]

    def _validate(self, cost: Mapping[str, int]) -> None:
        for name, w in cost.items():
            if name not in self._b:
                raise KeyError(f"cost: no bucket {name!r} (have {sorted(self._b)})")
            if isinstance(w, bool) or not isinstance(w, int) or w < 0:
                raise ValueError(f"cost: weight of {name} must be an int >= 0, got {w!r}")

    def _check(self, cost: Mapping[str, int], now: float) -> tuple[float, str]:
        self._validate(cost)
        if now < self.blocked_until:
            return self.blocked_until - now, self.block_reason
        worst, why = 0.0, ""
        for name, w in cost.items():
            st = self._b[name]
            st.expire(now)
            wait = st.wait_for(w, now)
            if wait > worst:
                b = st.bucket
                worst = wait
                why = (f"rate limit {b.name}: {b.limit} per {b.window:g} s "
                       f"({st.used} used, this request weighs {w})")
        return worst, why

    def prepare(self, cost: Mapping[str, int]) -> tuple[tuple[_State, int], ...]:
        """``cost`` checked once, for :meth:`try_take` on a hot path."""
        self._validate(cost)
        return tuple((self._b[name], w) for name, w in cost.items() if w)

    def try_take(self, prepared: tuple[tuple[_State, int], ...]) -> str | None:
        """:meth:`try_acquire` of a :meth:`prepare`-d cost (the order path: ~1 µs)."""
        now = self.clock()
        if now < self.blocked_until:
            self.refused += 1
            return self.block_reason
        for st, w in prepared:
            spent = st.spent
            horizon = now - st.window
            while spent and spent[0][0] <= horizon:
                st.used -= spent.popleft()[1]
            if st.used + w > st.limit:
                self.refused += 1
                return (f"rate limit {st.bucket.name}: {st.limit} per {st.window:g} s "
                        f"({st.used} used, this request weighs {w})")
        for st, w in prepared:
            st.spent.append((now, w))
            st.used += w
        return None

    def wait_time(self, cost: Mapping[str, int]) -> float:
        """Seconds until ``cost`` fits (0: it fits now)."""
        return self._check(cost, self.clock())[0]

    def try_acquire(self, cost: Mapping[str, int]) -> str | None:
        """Take ``cost`` now and return None, or take nothing and return the reason."""
        now = self.clock()
        wait, why = self._check(cost, now)
        if wait > 0:
            self.refused += 1
            return why
        self._take(cost, now)
        return None

    def _take(self, cost: Mapping[str, int], now: float) -> None:
        for name, w in cost.items():
            if w:
                st = self._b[name]
                st.spent.append((now, w))
                st.used += w

    async def acquire(self, cost: Mapping[str, int], max_wait: float | None = None) -> None:
        """Wait until ``cost`` fits, then take it.  Raises :class:`RateLimitExceeded` when the
        wait would be longer than ``max_wait`` seconds (or could never end)."""
        while True:
            now = self.clock()
            wait, why = self._check(cost, now)
            if wait <= 0:
                self._take(cost, now)
                return
            if wait == float("inf") or (max_wait is not None and wait > max_wait):
                self.refused += 1
                raise RateLimitExceeded(why, wait)
            self.waited += 1
            await asyncio.sleep(wait)

    def block(self, seconds: float, reason: str) -> None:
        """Refuse (or hold) every request for ``seconds`` - the venue said so."""
        until = self.clock() + max(0.0, seconds)
        if until > self.blocked_until:
            self.blocked_until = until
            self.block_reason = reason

    def observe(self, name: str, count: int) -> None:
        """The venue reports ``count`` weight used in bucket ``name``'s current window: count
        the difference as spent now when it is more than ours."""
        st = self._b.get(name)
        if st is None:
            return
        now = self.clock()
        st.expire(now)
        if count > st.used:
            extra = min(count, st.bucket.limit) - st.used
            if extra > 0:
                st.spent.append((now, extra))
                st.used += extra

    def usage(self) -> dict[str, tuple[int, int]]:
        """``{bucket: (used, limit)}`` now."""
        now = self.clock()
        out = {}
        for name, st in self._b.items():
            st.expire(now)
            out[name] = (st.used, st.bucket.limit)
        return out
