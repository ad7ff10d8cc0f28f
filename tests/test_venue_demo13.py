"""``python -m hftcore demo --live-loopback --venue NAME`` for the venues of issue 13: order
entry over each venue's protocol and signing against its loopback server."""

from __future__ import annotations

import json

import pytest
from loopback_helpers import run

from hftcore import cli
from hftcore.venues.loopback_more import DEMO_VENUES, format_order_entry_demo, order_entry_demo


@pytest.mark.parametrize("venue", DEMO_VENUES)
def test_order_entry_demo(venue: str) -> None:
    r = run(order_entry_demo(venue))
    assert (r["venue"], r["orders"], r["fills"], r["bad_signatures"]) == (venue, 2, 1, 0)
    assert r["position"] == "-0.25"
    assert r["amend"] == ("not offered by the venue" if venue == "htx" else "replaced")
    assert [e.split()[1] for e in r["events"]][-3:] == ["CANCELED", "ACCEPTED", "FILLED"]
    assert "FILLED" in format_order_entry_demo(r)


def test_demo_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--live-loopback", "--venue", "deribit", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["venue"] == "deribit" and out["fills"] == 1
    assert cli.main(["demo", "--live-loopback", "--venue", "ftx"]) == cli.EXIT_USAGE
    with pytest.raises(ValueError, match="venue"):
        run(order_entry_demo("ftx"))


def test_loopback_constructors_refuse_wrong_types() -> None:
    from hftcore import Instrument
    from hftcore.venues.loopback_more import DeribitLoopback, KucoinLoopback

    inst = [Instrument("deribit", "BTC-PERPETUAL", 1, 2)]
    with pytest.raises(TypeError, match="api_secret"):
        DeribitLoopback(inst, api_secret=b"secret")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recording"):
        KucoinLoopback(inst, recording=5)  # type: ignore[arg-type]
