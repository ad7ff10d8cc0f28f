"""Metrics registry, latency tables, the Prometheus endpoint scraped over HTTP, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import urllib.request

import numpy as np
import pytest

from hftcore import Instrument, InstrumentLimits, RiskEngine, Side
from hftcore._ext.ring import Ring
from hftcore.metrics import (
    Counter,
    Gauge,
    JsonFormatter,
    MetricsRegistry,
    configure_logging,
    format_duration,
    format_latency_table,
    hot_path_logging,
    latency_report,
    start_http_server,
)

BTC = Instrument("binance", "BTCUSDT", 2, 5, tick=5, lot=100)


def registry_with_data() -> MetricsRegistry:
    m = MetricsRegistry()
    md = m.market_data_messages("binance")
    for _ in range(41):
        md.value += 1
    m.market_data_messages("okx").inc(7)
    m.decode_errors("okx").inc()
    m.resyncs("binance").inc(2)
    m.venue_connected("binance").set(1)
    m.venue_connected("okx").set(0)
    m.stage("decode").record_many(np.arange(1000, 2000))
    m.stage("risk").record(80)
    return m


def test_counters_gauges_and_stats() -> None:
    m = registry_with_data()
    assert isinstance(m.market_data_messages("binance"), Counter)
    assert isinstance(m.venue_connected("okx"), Gauge)
    assert m.market_data_messages("binance") is m.market_data_messages("binance")
    s = m.stats()
    assert s["market_data_messages"] == {"binance": 41, "okx": 7}
    assert s["decode_errors"] == {"okx": 1}
    assert s["book_resyncs"] == {"binance": 2}
    assert s["venue_connected"] == {"binance": 1, "okx": 0}
    dec = s["stage_latency"]["decode"]
    assert dec["count"] == 1000 and dec["min"] == 1000 and dec["max"] == 1999
    assert abs(dec["p50"] - 1499) <= 15
    json.dumps(s)  # plain data
    m.reset()
    assert m.stats()["market_data_messages"] == {"binance": 0, "okx": 0}
    assert m.stats()["venue_connected"]["binance"] == 1
    assert m.stage("decode").count == 0


def test_families_are_checked() -> None:
    m = MetricsRegistry()
    fills = m.counter("fills", "Fills received", "venue")
    assert m.counter("fills", "again", "venue") is fills
    with pytest.raises(ValueError, match="exists"):
        m.gauge("fills", "x", "venue")
    with pytest.raises(ValueError, match="name"):
        m.counter("bad name", "x", "venue")
    with pytest.raises(TypeError, match="label"):
        fills(3)
    with pytest.raises(TypeError, match="histogram"):
        m.add_source(m.stage_latency, dict)
    with pytest.raises(ValueError, match="namespace"):
        MetricsRegistry("no-dash")


def test_risk_rejections_come_from_the_risk_engine() -> None:
    m = MetricsRegistry()
    risk = RiskEngine(notional_decimals=8)
    risk.add_instrument(BTC, InstrumentLimits(min_size=10 * BTC.lot))
    px = BTC.price("50000.00")
    risk.check_order(BTC, Side.BUY, px, 10 * BTC.lot)  # ok
    risk.check_order(BTC, Side.BUY, px, BTC.lot)  # size_min
    risk.check_order(BTC, Side.BUY, px, BTC.lot)
    risk.check_order(BTC, Side.BUY, px + 1, 10 * BTC.lot)  # price_tick
    m.watch_risk(risk)
    m.risk_rejections("manual").inc()
    assert m.stats()["risk_rejections"] == {"size_min": 2, "price_tick": 1, "manual": 1}


def test_latency_table_and_report() -> None:
    m = registry_with_data()
    table = format_latency_table(m)
    lines = table.splitlines()
    assert lines[0].split() == ["stage", "count", "p50", "p99", "p99.9", "max"]
    assert lines[2].split()[0] == "decode" and "1.5 µs" in lines[2]
    assert "80 ns" in lines[3]
    budgets = {"decode": {"p99": 1000}, "risk": {"p99": 100}}
    rep = latency_report(m, budgets=budgets)
    assert rep["decode"]["over"] == ["p99"] and rep["risk"]["over"] == []
    table = format_latency_table(m, budgets=budgets)
    assert "OVER p99" in table and table.splitlines()[3].endswith("ok")
    assert format_duration(None) == "-" and format_duration(2_500_000_000) == "2.5 s"
    assert format_duration(1234) == "1.23 µs" and format_duration(12) == "12 ns"


def test_prometheus_endpoint_scraped_over_http() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    m = registry_with_data()
    server = start_http_server(m, port=0)
    try:
        assert server.port > 0
        m.market_data_messages("binance").inc()  # read at scrape time
        with urllib.request.urlopen(server.url, timeout=10) as resp:
            text = resp.read().decode()
    finally:
        server.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert samples[("hftcore_market_data_messages_total", (("venue", "binance"),))] == 42
    assert samples[("hftcore_market_data_messages_total", (("venue", "okx"),))] == 7
    assert samples[("hftcore_venue_connected", (("venue", "binance"),))] == 1
    assert samples[("hftcore_decode_errors_total", (("venue", "okx"),))] == 1
    assert samples[("hftcore_stage_latency_seconds_count", (("stage", "decode"),))] == 1000
    total = samples[("hftcore_stage_latency_seconds_sum", (("stage", "decode"),))]
    assert total == pytest.approx(sum(range(1000, 2000)) / 1e9)
    le = {k[1]: v for k, v in samples.items() if k[0] == "hftcore_stage_latency_seconds_bucket"
          and ("stage", "decode") in k[1]}
    by_bound = {dict(k)["le"]: v for k, v in le.items()}
    # 1000 ns shares its bucket with 1001..1003 (the 0.4% resolution): 1-4 values
    assert 1 <= by_bound["1e-06"] <= 4
    assert by_bound["2.5e-06"] == 1000 and by_bound["+Inf"] == 1000
    assert "# TYPE hftcore_risk_rejections_total counter" in text


def test_json_formatter_and_configure_logging() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", json=True, stream=stream, logger="hftcore.test_json")
    log = logging.getLogger("hftcore.test_json")
    try:
        log.info("connected to %s", "binance", extra={"venue": "binance", "attempt": 3})
        log.debug("not shown")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["msg"] == "connected to binance" and first["level"] == "INFO"
    assert first["venue"] == "binance" and first["attempt"] == 3
    assert first["logger"] == "hftcore.test_json" and first["ts"].endswith("Z")
    assert "RuntimeError: boom" in lines[1]["exc"]
    rec = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    rec.obj = object()  # not JSON: written as text
    assert "object" in json.loads(JsonFormatter().format(rec))["obj"]


def test_hot_path_logs_nothing_unless_asked(caplog: pytest.LogCaptureFixture) -> None:
    assert hot_path_logging() is False
    with caplog.at_level(logging.DEBUG):
        r = Ring(64, record_size=16)
        p, c = r.producer(), r.consumer()
        for _ in range(10):
            p.publish_batch(np.zeros(8, "V16"))
            c.read()
        m = MetricsRegistry()
        m.stage("decode").record(5)
        m.market_data_messages("x").inc()
    assert caplog.records == []
    assert hot_path_logging(True) is True
    assert hot_path_logging(False) is False
    with pytest.raises(TypeError):
        hot_path_logging(1)  # type: ignore[arg-type]
