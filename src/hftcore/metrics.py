"""Counters, per-stage latency histograms, a Prometheus exporter, JSON logs, latency tables.

The engine owns one :class:`MetricsRegistry`.  On the hot path it only touches plain objects:
``counter.value += 1`` (or ``.inc()``), ``gauge.set(1)``, ``hist.record(ns)`` — or
``hist_record(hist.h, ns)`` from Cython without the GIL.  Nothing is formatted, locked or
logged there.  Readers pull: :meth:`MetricsRegistry.stats` returns a plain dict,
:func:`format_latency_table` a table for people, and :class:`PrometheusCollector` /
:func:`start_http_server` (``pip install hftcore[metrics]``) serve the same numbers to
Prometheus under the names a Grafana user expects::

    hftcore_market_data_messages_total{venue}   hftcore_decode_errors_total{venue}
    hftcore_book_resyncs_total{venue}           hftcore_risk_rejections_total{reason}
    hftcore_venue_connected{venue}              hftcore_stage_latency_seconds{stage}
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from hftcore._ext.hist import LatencyHistogram

__all__ = [
    "DEFAULT_BUCKETS",
    "STAGES",
    "Counter",
    "Family",
    "Gauge",
    "JsonFormatter",
    "MetricsRegistry",
    "MetricsServer",
    "PrometheusCollector",
    "configure_logging",
    "format_duration",
    "format_latency_table",
    "hot_path_logging",
    "latency_report",
    "start_http_server",
]

#: the engine's stages, in the order a market-data message goes through them
STAGES = ("receive", "decode", "book", "strategy", "risk", "send", "tick_to_trade")
#: Prometheus histogram bucket bounds in seconds (100 ns .. 1 s)
DEFAULT_BUCKETS = (
    1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5,
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1, 1.0,
)


class Counter:
    """A count that only grows: ``c.value += n`` or ``c.inc(n)`` (plain int, no lock).

    Only the owning thread writes it; readers see a value at most one increment old.
    """

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self, n: int = 1) -> None:
        """Add ``n`` (default 1)."""
        self.value += n

    def __repr__(self) -> str:
        return f"<Counter {self.value}>"


class Gauge:
    """A value that goes up and down (e.g. 1 connected / 0 not)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def set(self, value: int) -> None:
        """Set the value."""
        self.value = value

    def inc(self, n: int = 1) -> None:
        """Add ``n``."""
        self.value += n

    def dec(self, n: int = 1) -> None:
        """Subtract ``n``."""
        self.value -= n

    def __repr__(self) -> str:
        return f"<Gauge {self.value}>"


@dataclass
class Family:
    """One metric with one label: ``family("binance")`` returns that label's child.

    ``kind`` is ``"counter"``, ``"gauge"`` or ``"histogram"``; children are :class:`Counter`,
    :class:`Gauge` or :class:`LatencyHistogram`.  ``sources`` are callables returning
    ``{label: value}`` read at collection time and added to the children's values (for counts
    another object keeps, such as the risk engine's rejections by reason).
    """

    name: str
    help: str
    label: str
    kind: str
    children: dict[str, Any] = field(default_factory=dict)
    sources: list[Callable[[], Mapping[str, int]]] = field(default_factory=list)

    def __call__(self, label: str) -> Any:
        """The child for ``label`` (made on first use; keep it and use it directly)."""
        child = self.children.get(label)
        if child is None:
            if not isinstance(label, str):
                raise TypeError(f"label must be a str, not {type(label).__name__}")
            child = {"counter": Counter, "gauge": Gauge, "histogram": LatencyHistogram}[
                self.kind
            ]()
            self.children[label] = child
        return child

    def values(self) -> dict[str, int]:
        """``{label: value}`` for a counter or gauge, sources included."""
        if self.kind == "histogram":
            raise TypeError(f"{self.name} is a histogram: use .children")
        out = {k: int(c.value) for k, c in self.children.items()}
        for source in self.sources:
            for k, v in source().items():
                out[k] = out.get(k, 0) + int(v)
        return out


class MetricsRegistry:
    """The engine's counters, gauges and per-stage latency histograms.

    Standard families (attributes): ``market_data_messages`` (counter by venue),
    ``decode_errors`` (venue), ``resyncs`` (venue), ``risk_rejections`` (reason),
    ``venue_connected`` (gauge by venue), ``stage_latency`` (histogram by stage, ns).
    Add more with :meth:`counter`, :meth:`gauge`, :meth:`histogram`.
    """

    def __init__(self, namespace: str = "hftcore") -> None:
        if not isinstance(namespace, str) or not namespace.isidentifier():
            raise ValueError(f"namespace must be an identifier, got {namespace!r}")
        self.namespace = namespace
        self.families: dict[str, Family] = {}
        self.market_data_messages = self.counter(
            "market_data_messages", "Market-data messages received", "venue")
        self.decode_errors = self.counter(
            "decode_errors", "Messages the decoder refused", "venue")
        self.resyncs = self.counter("book_resyncs", "Book resynchronisations", "venue")
        self.risk_rejections = self.counter(
            "risk_rejections", "Orders refused by pre-trade risk", "reason")
        self.venue_connected = self.gauge(
            "venue_connected", "1 while the venue connection is up", "venue")
        self.stage_latency = self.histogram(
            "stage_latency", "Latency of each engine stage", "stage")

    def _add(self, name: str, help: str, label: str, kind: str) -> Family:
        for what, value in (("name", name), ("label", label)):
            if not isinstance(value, str) or not value.isidentifier():
                raise ValueError(f"{what} must be an identifier, got {value!r}")
        if name in self.families:
            fam = self.families[name]
            if fam.kind != kind or fam.label != label:
                raise ValueError(f"metric {name!r} exists as a {fam.kind} by {fam.label}")
            return fam
        fam = Family(name, help, label, kind)
        self.families[name] = fam
        return fam

    def counter(self, name: str, help: str, label: str) -> Family:
        """A counter family (exported as ``<namespace>_<name>_total{label}``)."""
        return self._add(name, help, label, "counter")

    def gauge(self, name: str, help: str, label: str) -> Family:
        """A gauge family (``<namespace>_<name>{label}``)."""
        return self._add(name, help, label, "gauge")

    def histogram(self, name: str, help: str, label: str) -> Family:
        """A latency histogram family in ns (``<namespace>_<name>_seconds{label}``)."""
        return self._add(name, help, label, "histogram")

    def stage(self, name: str) -> LatencyHistogram:
        """The latency histogram of engine stage ``name`` (see :data:`STAGES`)."""
        hist: LatencyHistogram = self.stage_latency(name)
        return hist

    def add_source(self, family: Family, source: Callable[[], Mapping[str, int]]) -> None:
        """Read ``{label: count}`` from ``source`` whenever the family is collected."""
        if family.kind == "histogram":
            raise TypeError(f"{family.name} is a histogram: sources feed counters and gauges")
        if not callable(source):
            raise TypeError("source must be callable")
        family.sources.append(source)

    def watch_risk(self, risk: Any) -> None:
        """Export a :class:`hftcore.RiskEngine`'s rejections by reason (read when collected)."""
        counts = risk.counts

        def rejections() -> dict[str, int]:
            return {r.name.lower(): n for r, n in counts().items() if r.value != 0 and n}

        self.add_source(self.risk_rejections, rejections)

    def stats(self) -> dict[str, Any]:
        """Every family as plain data: counters/gauges ``{label: value}``, histograms
        ``{label: summary dict}`` (ns)."""
        out: dict[str, Any] = {}
        for name, fam in self.families.items():
            if fam.kind == "histogram":
                out[name] = {k: h.summary() for k, h in fam.children.items()}
            else:
                out[name] = fam.values()
        return out

    def reset(self) -> None:
        """Zero every counter and histogram (gauges keep their value)."""
        for fam in self.families.values():
            for child in fam.children.values():
                if isinstance(child, LatencyHistogram):
                    child.reset()
                elif isinstance(child, Counter):
                    child.value = 0


# -- latency tables ---------------------------------------------------------------------------


def format_duration(ns: float | None) -> str:
    """``1234`` -> ``'1.23 µs'``: ns, µs, ms or s with three significant digits."""
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def _hists(source: MetricsRegistry | Mapping[str, LatencyHistogram]) -> dict[str, Any]:
    if isinstance(source, MetricsRegistry):
        return dict(source.stage_latency.children)
    return dict(source)


def latency_report(
    source: MetricsRegistry | Mapping[str, LatencyHistogram],
    percentiles: Iterable[float] = (50, 99, 99.9),
    budgets: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per stage: count, the percentiles (ns, keys ``p50`` ...), max and, with ``budgets``
    (``{stage: {"p99": ns, ...}}``), ``over``: the percentiles above their budget."""
    ps = tuple(percentiles)
    out: dict[str, dict[str, Any]] = {}
    for stage, hist in _hists(source).items():
        row: dict[str, Any] = {"count": hist.count}
        for p, v in hist.percentiles(ps).items():
            row[f"p{p:g}"] = v
        row["max"] = hist.max
        if budgets is not None and stage in budgets:
            row["budget"] = dict(budgets[stage])
            row["over"] = sorted(k for k, limit in budgets[stage].items()
                                 if row.get(k) is not None and row[k] > limit)
        out[stage] = row
    return out


def format_latency_table(
    source: MetricsRegistry | Mapping[str, LatencyHistogram],
    percentiles: Iterable[float] = (50, 99, 99.9),
    budgets: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    """A text table of per-stage latency (the CLI prints it); with ``budgets``, a column
    saying ``ok`` or which percentiles went over."""
    ps = tuple(percentiles)
    report = latency_report(source, ps, budgets)
    head = ["stage", "count", *(f"p{p:g}" for p in ps), "max"]
    if budgets is not None:
        head.append("budget")
    rows = [head]
    for stage, row in report.items():
        cells = [stage, str(row["count"])]
        cells += [format_duration(row[f"p{p:g}"]) if row["count"] else "-" for p in ps]
        cells.append(format_duration(row["max"]))
        if budgets is not None:
            if "over" not in row:
                cells.append("")
            else:
                cells.append("OVER " + ",".join(row["over"]) if row["over"] else "ok")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- Prometheus -------------------------------------------------------------------------------


class PrometheusCollector:
    """A prometheus-client collector reading a :class:`MetricsRegistry` at scrape time.

    ``REGISTRY.register(PrometheusCollector(metrics))`` or use :func:`start_http_server`.
    Histograms are exported in seconds with ``buckets`` bounds (cumulative counts to within
    the histogram's 1% resolution).
    """

    def __init__(self, metrics: MetricsRegistry, buckets: Iterable[float] = DEFAULT_BUCKETS):
        if not isinstance(metrics, MetricsRegistry):
            raise TypeError("metrics must be a MetricsRegistry")
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[0] <= 0:
            raise ValueError("buckets must be positive seconds")
        self.metrics = metrics
        self.buckets = bounds

    def describe(self) -> list[Any]:
        return []  # collect() is cheap; nothing to check at registration

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        ns = self.metrics.namespace
        for name, fam in self.metrics.families.items():
            full = f"{ns}_{name}"
            if fam.kind == "counter":
                c = CounterMetricFamily(full, fam.help, labels=[fam.label])
                for label, value in sorted(fam.values().items()):
                    c.add_metric([label], value)
                yield c
            elif fam.kind == "gauge":
                g = GaugeMetricFamily(full, fam.help, labels=[fam.label])
                for label, value in sorted(fam.values().items()):
                    g.add_metric([label], value)
                yield g
            else:
                h = HistogramMetricFamily(f"{full}_seconds", fam.help + " (seconds)",
                                          labels=[fam.label])
                for label, hist in sorted(fam.children.items()):
                    snap = hist.copy()  # one consistent view while the writer goes on
                    points = [(repr(b), snap.count_at_or_below(round(b * 1e9)))
                              for b in self.buckets]
                    points.append(("+Inf", snap.count))
                    h.add_metric([label], points, sum_value=snap.sum / 1e9)
                yield h


@dataclass
class MetricsServer:
    """A running Prometheus endpoint (``close()`` stops it)."""

    host: str
    port: int
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        """The scrape URL."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_http_server(metrics: MetricsRegistry, port: int = 0, host: str = "127.0.0.1",
                      buckets: Iterable[float] = DEFAULT_BUCKETS) -> MetricsServer:
    """Serve ``metrics`` for Prometheus on ``host:port`` (0: a free port) in a thread.

    Only this registry is served (not prometheus-client's global one).  Needs
    ``pip install hftcore[metrics]``.
    """
    try:
        import prometheus_client
        from prometheus_client import CollectorRegistry
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the Prometheus exporter needs: pip install hftcore[metrics]") from exc
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in [0, 65535], got {port!r}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PrometheusCollector(metrics, buckets))
    server, thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    return MetricsServer(host, server.server_port, server, thread)


# -- logging ----------------------------------------------------------------------------------

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}
_HOT_PATH = {"enabled": False}


def hot_path_logging(enabled: bool | None = None) -> bool:
    """Whether per-message (hot path) log lines are wanted; off unless turned on here.

    Code on the hot path tests this (a dict read) before building any log record, so with it
    off nothing is formatted or logged per message.  ``enabled`` sets it; returns the value.
    """
    if enabled is not None:
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        _HOT_PATH["enabled"] = enabled
    return _HOT_PATH["enabled"]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (ISO-8601 UTC), ``ts_ns``, ``level``, ``logger``,
    ``msg``, the record's ``extra`` fields and, on errors, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        ts_ns = int(record.created * 1e9)
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "ts_ns": ts_ns,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure_logging(level: int | str = "INFO", *, json: bool = False,
                      stream: IO[str] | None = None, logger: str = "hftcore") -> logging.Handler:
    """Send ``logger``'s records at ``level`` to ``stream`` (stderr), as JSON lines with
    ``json=True``.  Returns the handler (remove it to undo)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger(logger)
    log.addHandler(handler)
    log.setLevel(level)
    return handler
