"""``python -m hftcore convert RECORDING... --out FILE``: recordings to one event file.

The recordings go through the same decoders and book-sync procedures as a backtest (a Binance
REST snapshot file syncs the stream given with it), so a backtest over the event file gives the
same fills as one over the recordings.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hftcore.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, CliError, command
from hftcore.data.eventfile import EventFile, EventWriter
from hftcore.data.sources import DataSources
from hftcore.model import Instrument

__all__ = ["convert"]


def convert(recordings: str | Path | Sequence[str | Path], out: str | Path,
            instruments: Sequence[Instrument] | None = None, *, venue: str | None = None,
            strict: bool = False) -> dict[str, Any]:
    """Decode ``recordings`` into the event file ``out``; returns what was done (messages,
    events, bytes, seconds, decode errors, gaps).  ``out`` appears only when complete."""
    t0 = time.perf_counter()
    src = DataSources(recordings, instruments, venue=venue, strict=strict)
    if src.event_files:
        raise ValueError(f"{src.event_files[0].path}: already an event file")
    with EventWriter(out, src.instruments, [str(p) for p in src.recordings]) as w:
        for arr in src:
            w.append(arr)
    st = src.stats()
    ef = EventFile(out)
    elapsed = time.perf_counter() - t0
    return {"out": str(out), "messages": st.messages, "events": ef.count,
            "instruments": len(ef.instruments), "bytes_in": st.bytes,
            "bytes_out": Path(out).stat().st_size, "seconds": elapsed,
            "messages_per_s": st.messages / elapsed if elapsed > 0 else 0.0,
            "decode_errors": st.decode_errors, "unknown_symbols": st.unknown_symbols,
            "gaps": st.gaps, "errors": st.errors[:10]}


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="RECORDING",
                   help="recordings (.txt/.jsonl, plain, .gz or .zst)")
    p.add_argument("--out", required=True, metavar="FILE", help="the event file to write")
    p.add_argument("--venue", default=None, help="the venue (default: detected from each file)")
    p.add_argument("--strict", action="store_true", help="stop at the first bad message")


@command("convert", "decode recordings into one event file (fast backtests, research)", _args)
def _convert(args: argparse.Namespace) -> int:
    try:
        r = convert(args.files, args.out, venue=args.venue.lower() if args.venue else None,
                    strict=args.strict)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc), EXIT_INPUT) from None
    print(f"{r['out']}: {r['events']:,} events of {r['instruments']} instruments from "
          f"{r['messages']:,} messages in {r['seconds']:.2f} s "
          f"({r['messages_per_s']:,.0f} messages/s); {r['bytes_in']:,} -> {r['bytes_out']:,} "
          f"bytes; decode errors {r['decode_errors']}, gaps {r['gaps']}")
    for e in r["errors"]:
        print(f"  {e}", file=sys.stderr)
    return EXIT_OK if not r["decode_errors"] else EXIT_FAILED
