"""Parquet archives of recordings, event files, fills and equity curves, partitioned by
venue / instrument / day (Hive layout), readable without hftcore (pandas, pyarrow, DuckDB,
Spark).

Layout under an archive root::

    events/venue=coinbase/symbol=BTC-USD/day=2021-04-17/part-<first_ts>-<last_ts>.parquet
    fills/venue=.../symbol=.../day=.../part-....parquet
    inventory/venue=.../symbol=.../day=.../part-....parquet
    equity/day=.../part-....parquet

Columns keep the record schemas: events are ``EVENT_DTYPE``'s fields with their types
(``local_ts`` / ``exchange_ts`` int64 ns, ``price`` / ``size`` raw int64 at the instrument's
decimals, ``kind``, ``side``, ``flags`` ...), fills ``FILL_DTYPE``'s (plus strategy and client
order id), and every file has ``price_decimals`` / ``size_decimals`` columns so a reader turns
raw ints into decimals exactly (``price / 10^price_decimals``).  The partition keys (``venue``,
``symbol``, ``day``: the UTC day of the receive / fill time) are in the directory names only.
A file's metadata carries the instrument (``hftcore.instrument``) and the record version.

Writing the same data again writes the same file names: archiving is idempotent.  Needs pyarrow
(``pip install 'hftcore[parquet]'``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hftcore._args import check_path, check_positive_int, check_text
from hftcore._ext.feed import EVENT_DTYPE
from hftcore.model import Instrument

__all__ = ["archive_equity", "archive_event_file", "archive_events", "archive_fills",
           "archive_recordings", "archive_result", "read_instrument"]

_DAY_NS = 86_400_000_000_000


def _check_instruments(instruments: object) -> None:
    if instruments is None:
        return
    if isinstance(instruments, str) or not isinstance(instruments, Sequence):
        raise TypeError(f"instruments must be a sequence of Instrument or None, got "
                        f"{type(instruments).__name__}")
    for k, inst in enumerate(instruments):
        if not isinstance(inst, Instrument):
            raise TypeError(f"instruments[{k}] must be an Instrument, got "
                            f"{type(inst).__name__}")


def _pa() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("Parquet archives need pyarrow: pip install 'hftcore[parquet]'") \
            from None
    return pa, pq


def _inst_meta(inst: Instrument) -> bytes:
    return orjson.dumps({"venue": inst.venue, "symbol": inst.symbol,
                         "price_decimals": inst.price_decimals,
                         "size_decimals": inst.size_decimals, "tick": inst.tick,
                         "lot": inst.lot, "base": inst.base, "quote": inst.quote})


def _safe(part: str) -> str:
    """A partition value fit for a directory name (Hive escaping of what is not)."""
    out = []
    for ch in part:
        if ch.isalnum() or ch in "-_.":
            out.append(ch)
        else:
            out.append(f"%{ord(ch):02X}")
    return "".join(out)


def _days(ts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return ts // _DAY_NS


def _day_text(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _write(root: Path, dataset: str, keys: Sequence[tuple[str, str]], cols: dict[str, Any],
           ts: np.ndarray[Any, Any], meta: dict[bytes, bytes]) -> Path:
    pa, pq = _pa()
    d = root / dataset
    for k, v in keys:
        d = d / f"{k}={_safe(v)}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"part-{int(ts[0])}-{int(ts[-1])}-{len(ts)}.parquet"
    table = pa.table(cols)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    tmp = path.with_name(path.name + ".partial")
    pq.write_table(table, str(tmp))
    os.replace(tmp, path)                   # a reader never sees half a file
    return path


def archive_events(events: Any, root: str | os.PathLike[str],
                   instruments: Sequence[Instrument] | None = None) -> list[Path]:
    """Write event records (``EVENT_DTYPE``; an :class:`~hftcore.data.Events` knows its
    instruments, else give ``instruments``) under ``root/events``, one file per instrument and
    UTC day of ``local_ts``; returns the files."""
    check_path(root, "root")
    _check_instruments(instruments)
    insts = list(instruments if instruments is not None else getattr(events, "instruments", []))
    arr = np.asarray(events)
    if arr.dtype != EVENT_DTYPE:
        raise TypeError(f"events: expected EVENT_DTYPE records, got {arr.dtype}")
    if not len(arr):
        return []
    if not insts:
        raise ValueError("instruments: the events' instruments are needed (an Events array "
                         "from hftcore.data.load carries them)")
    if int(arr["instrument"].max()) >= len(insts):
        raise ValueError(f"events: instrument {int(arr['instrument'].max())} is not among the "
                         f"{len(insts)} instruments given")
    root = Path(root)
    out = []
    days = _days(arr["local_ts"])
    for i in np.unique(arr["instrument"]).tolist():
        inst = insts[i]
        mine = arr["instrument"] == i
        for day in np.unique(days[mine]).tolist():
            sel = arr[mine & (days == day)]
            cols = {name: sel[name] for name in EVENT_DTYPE.names or ()}
            n = len(sel)
            cols["price_decimals"] = np.full(n, inst.price_decimals, np.uint8)
            cols["size_decimals"] = np.full(n, inst.size_decimals, np.uint8)
            out.append(_write(root, "events", (("venue", inst.venue), ("symbol", inst.symbol),
                                               ("day", _day_text(day))), cols,
                              sel["local_ts"], {b"hftcore.instrument": _inst_meta(inst),
                                                b"hftcore.record": b"EVENT_DTYPE v1"}))
    return out


def archive_event_file(path: str | os.PathLike[str], root: str | os.PathLike[str],
                       chunk: int = 1 << 20) -> list[Path]:
    """Archive an event file (``python -m hftcore convert`` output) in chunks (constant
    memory)."""
    from hftcore.data.eventfile import EventFile, iter_chunks

    check_path(path, "path")
    check_path(root, "root")
    check_positive_int(chunk, "chunk")

    insts = EventFile(path).instruments
    out: list[Path] = []
    for arr in iter_chunks(path, chunk):
        out.extend(archive_events(arr, root, insts))
    return out


def archive_recordings(recordings: str | Path | Sequence[str | Path],
                       root: str | os.PathLike[str],
                       instruments: Sequence[Instrument] | None = None, *,
                       venue: str | None = None) -> list[Path]:
    """Decode recordings (through the same decoders and book sync as a backtest) and archive
    their events; returns the files."""
    from hftcore.data.sources import DataSources

    if isinstance(recordings, str | os.PathLike):
        check_path(recordings, "recordings")
    elif not isinstance(recordings, Sequence) or not recordings:
        raise TypeError(f"recordings must be a path or a non-empty sequence of paths, got "
                        f"{type(recordings).__name__}")
    else:
        for k, r in enumerate(recordings):
            check_path(r, f"recordings[{k}]")
    check_path(root, "root")
    _check_instruments(instruments)
    if venue is not None:
        check_text(venue, "venue", empty=False)

    src = DataSources(recordings, instruments, venue=venue)
    out: list[Path] = []
    for arr in src:
        if len(arr):
            out.extend(archive_events(arr, root, src.instruments))
    return out


def _engine_of(result: Any) -> Any:
    from hftcore.engine import Engine

    if isinstance(result, Engine):
        return result
    eng = getattr(result, "engine", None)
    if isinstance(eng, Engine):
        return eng
    raise TypeError(f"result must be a BacktestResult or an Engine, got {type(result).__name__}")


_SIDES = np.array(["BUY", "SELL"])
_LIQ = np.array(["MAKER", "TAKER"])


def archive_fills(result: Any, root: str | os.PathLike[str], run: str = "") -> list[Path]:
    """Write a run's fills (a :class:`~hftcore.BacktestResult` or an :class:`~hftcore.Engine`)
    under ``root/fills``, one file per instrument and UTC day; ``run`` is kept in a column."""
    eng = _engine_of(result)
    check_path(root, "root")
    check_text(run, "run")
    rows = eng.fills     # (ts, strategy, cid, side, qty, price, liquidity, fee, index)
    if not rows:
        return []
    ts = np.array([r[0] for r in rows], np.int64)
    index = np.array([r[8] for r in rows], np.int32)
    side = np.array([r[3] for r in rows], np.uint8)
    liq = np.array([r[6] for r in rows], np.uint8)
    qty = np.array([r[4] for r in rows], np.int64)
    price = np.array([r[5] for r in rows], np.int64)
    fee = np.array([r[7] for r in rows], np.int64)
    strategy = np.array([r[1] for r in rows], object)
    cid = np.array([r[2] for r in rows], object)
    root = Path(root)
    out = []
    days = _days(ts)
    for i in np.unique(index).tolist():
        inst = eng.instruments[i]
        mine = index == i
        for day in np.unique(days[mine]).tolist():
            m = mine & (days == day)
            n = int(m.sum())
            cols = {"ts": ts[m], "instrument": index[m], "side": side[m], "liquidity": liq[m],
                    "qty": qty[m], "price": price[m], "fee": fee[m],
                    "side_name": _SIDES[side[m]], "liquidity_name": _LIQ[liq[m]],
                    "strategy": strategy[m].astype(str), "client_order_id": cid[m].astype(str),
                    "run": np.full(n, run, object).astype(str),
                    "price_decimals": np.full(n, inst.price_decimals, np.uint8),
                    "size_decimals": np.full(n, inst.size_decimals, np.uint8),
                    "fee_decimals": np.full(n, inst.price_decimals + inst.size_decimals,
                                            np.uint8)}
            out.append(_write(root, "fills", (("venue", inst.venue), ("symbol", inst.symbol),
                                              ("day", _day_text(day))), cols, ts[m],
                              {b"hftcore.instrument": _inst_meta(inst),
                               b"hftcore.record": b"FILL_DTYPE v1"}))
    return out


def archive_equity(result: Any, root: str | os.PathLike[str], run: str = "") -> list[Path]:
    """Write a run's equity curve under ``root/equity`` (by UTC day: ``ts``, ``pnl``,
    ``realized``, ``unrealized`` as raw int64 at ``pnl_decimals`` = 8) and each instrument's
    inventory under ``root/inventory`` (by venue, instrument and day: ``ts``, ``net`` raw)."""
    eng = _engine_of(result)
    check_path(root, "root")
    check_text(run, "run")
    eq = eng.equity
    if not len(eq):
        return []
    root = Path(root)
    ts = eq["ts"]
    days = _days(ts)
    out = []
    for day in np.unique(days).tolist():
        m = days == day
        n = int(m.sum())
        cols = {"ts": ts[m], "pnl": eq["pnl"][m], "realized": eq["realized"][m],
                "unrealized": eq["unrealized"][m], "pnl_decimals": np.full(n, 8, np.uint8),
                "run": np.full(n, run, object).astype(str)}
        out.append(_write(root, "equity", (("day", _day_text(day)),), cols, ts[m],
                          {b"hftcore.record": b"equity v1"}))
        for i, inst in enumerate(eng.instruments):
            net = eq[f"net_{i}"][m]
            if not net.any():
                continue
            cols = {"ts": ts[m], "net": net, "size_decimals": np.full(n, inst.size_decimals,
                                                                      np.uint8),
                    "run": np.full(n, run, object).astype(str)}
            out.append(_write(root, "inventory", (("venue", inst.venue),
                                                  ("symbol", inst.symbol),
                                                  ("day", _day_text(day))), cols, ts[m],
                              {b"hftcore.instrument": _inst_meta(inst),
                               b"hftcore.record": b"inventory v1"}))
    return out


def archive_result(result: Any, root: str | os.PathLike[str], run: str = "") -> list[Path]:
    """Fills, equity curve and inventories of a backtest (or an engine) in one call."""
    _engine_of(result)
    check_path(root, "root")
    check_text(run, "run")
    return archive_fills(result, root, run) + archive_equity(result, root, run)


def read_instrument(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The instrument a file of the archive holds (from its metadata)."""
    check_path(path, "path")
    _, pq = _pa()
    meta = pq.read_schema(str(path)).metadata or {}
    return dict(orjson.loads(meta[b"hftcore.instrument"]))

