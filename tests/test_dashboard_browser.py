"""The dashboard page in a real headless browser (Debian's chromium + chromium-driver, driven
with selenium): it loads, shows the demo's book and PnL updating, asks before acting, and the
kill switch halts the engine and cancels its orders.

Screenshots are saved under the test's tmp directory (``dashboard-live.png``,
``dashboard-halted.png``).  CI installs the browser (``.ci/run``); elsewhere the test is
skipped, saying what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TOKEN = "browser-test-token-0123456789"

pytest.importorskip("aiohttp")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(f"no {CHROMIUM} / {CHROMEDRIVER}: apt-get install chromium chromium-driver "
                "(CI installs them)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the test extra)")

from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from hftcore.dashboard import serve  # noqa: E402
from hftcore.dashboard.demo import demo_engine  # noqa: E402
from hftcore.risk import TradingState  # noqa: E402

# a browser beside the server: left out of the sanitizer run (which skips `integration`)
pytestmark = pytest.mark.integration


class LoopThread:
    """An event loop in a thread running the paced demo and its dashboard."""

    def __init__(self, journal: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.journal = journal

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the loop (between two engine calls) and return its result."""
        async def wrap() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(30)

    def start(self) -> None:
        async def main() -> None:
            self.engine, self.replay, tape = demo_engine(pace=4.0, laps=0)
            self.dash = await serve(self.engine, tape=tape, gaps=self.replay.gap_counts,
                                    token=TOKEN, rate=10, control_journal=self.journal)
            self.task = asyncio.get_running_loop().create_task(self.replay.run())
        asyncio.run_coroutine_threadsafe(main(), self.loop).result(30)

    def stop(self) -> None:
        async def main() -> None:
            self.replay.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
            await self.dash.stop()
        try:
            asyncio.run_coroutine_threadsafe(main(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LoopThread]:
    lt = LoopThread(tmp_path / "controls.jsonl")
    lt.start()
    try:
        yield lt
    finally:
        lt.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="hftcore-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1600,2400"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the sanitizer run preloads libasan into the interpreter; the browser must not inherit it
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC")}
    service = Service(CHROMEDRIVER, env=env)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: Any, cond: Callable[[Any], Any], what: str, timeout: float = 30) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(cond)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


# the page rebuilds its tables on every update: read them in one script call, not element by
# element (an element found before an update is gone after it)
def text(driver: Any, css: str) -> str:
    return str(driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        css))


def count(driver: Any, css: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length;",
                                     css))


def book_cells(driver: Any) -> list[str]:
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll('#instruments tbody td'), "
        "td => td.textContent);"))


def test_page_shows_the_demo_live_and_the_kill_switch_halts_it(demo: LoopThread, browser: Any,
                                                               tmp_path: Path) -> None:
    d = browser
    d.get(demo.dash.url)
    wait(d, lambda d: text(d, "#conn") == "live", "the websocket")
    wait(d, lambda d: count(d, "#instruments tbody tr") == 10, "ten instruments")
    wait(d, lambda d: text(d, "#sel-bid") not in ("", "-"), "a best bid")
    assert "backtest" in text(d, "#mode")

    # the book, the counters and the PnL move as the replay goes on
    first_book, first_events = book_cells(d), text(d, "#events-total")
    first_pnl = text(d, "#pnl-total")
    first_updates = d.execute_script("return window.hftDashboard.updates")
    wait(d, lambda d: book_cells(d) != first_book, "the book to change")
    wait(d, lambda d: text(d, "#events-total") != first_events, "the event count to grow")
    wait(d, lambda d: text(d, "#pnl-total") != first_pnl, "the PnL to change", timeout=60)
    wait(d, lambda d: d.execute_script("return window.hftDashboard.updates")
         >= first_updates + 5, "more updates")
    wait(d, lambda d: int(text(d, "#working-count")) > 0, "working orders")
    # what the page shows is what the engine has
    bid = text(d, "#sel-bid")
    assert bid.replace(".", "").isdigit()
    assert count(d, "#ladder tbody tr") == 10
    assert count(d, "#latency tbody tr") == 7
    assert "replay" in text(d, "#venues")
    # clicking an instrument selects its book
    d.execute_script("document.querySelectorAll('#instruments tbody tr')[8].click();")
    wait(d, lambda d: text(d, "#sel-name") == "coinbase:SKL-USD", "the selected book")
    d.save_screenshot(str(tmp_path / "dashboard-live.png"))

    # controls are locked without the token; a wrong token keeps them locked
    assert not d.find_element(By.ID, "kill").is_enabled()
    d.find_element(By.ID, "token").send_keys("wrong-token-wrong-token")
    d.find_element(By.ID, "unlock").click()
    wait(d, lambda d: "wrong token" in text(d, "#toast"), "the refusal")
    assert not d.find_element(By.ID, "kill").is_enabled()
    d.find_element(By.ID, "token").clear()
    d.find_element(By.ID, "token").send_keys(TOKEN)
    d.find_element(By.ID, "unlock").click()
    wait(d, lambda d: d.find_element(By.ID, "kill").is_enabled(), "the controls to unlock")
    assert text(d, "#auth-state") == "controls unlocked"
    assert d.find_element(By.ID, "token").get_attribute("value") == ""

    # the kill switch asks first; cancelling the dialog changes nothing
    d.find_element(By.ID, "kill").click()
    wait(d, lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None,
         "the confirmation dialog")
    assert "kill switch" in text(d, "#confirm-text")
    d.find_element(By.ID, "confirm-cancel").click()
    time.sleep(0.3)
    assert demo.call(lambda: demo.engine.risk.state) == TradingState.ACTIVE
    assert not demo.call(lambda: demo.engine.risk.killed)

    # confirmed: the engine halts and every order is canceled
    open_before = demo.call(lambda: len(demo.engine.om.open_orders()))
    assert open_before > 0
    d.find_element(By.ID, "kill").click()
    wait(d, lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None,
         "the confirmation dialog")
    d.find_element(By.ID, "confirm-ok").click()
    wait(d, lambda d: "HALTED" in text(d, "#risk-state"), "HALTED on the page")
    wait(d, lambda d: text(d, "#working-count") == "0", "no working order on the page")
    assert demo.call(lambda: demo.engine.risk.killed)
    assert demo.call(lambda: demo.engine.risk.state) == TradingState.HALTED
    assert demo.call(lambda: demo.engine.om.open_orders()) == []
    wait(d, lambda d: "KILL_SWITCH" in text(d, "#rejections"),
         "new orders refused by the kill switch")
    assert "kill" in text(d, "#control-log")
    d.save_screenshot(str(tmp_path / "dashboard-halted.png"))
    entries = [line for line in demo.journal.read_text().splitlines() if line]
    assert any('"control_done"' in e and '"kill"' in e for e in entries)
    assert all(TOKEN not in e for e in entries)

    # no script error, no content-security-policy violation
    severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_token_in_the_fragment_unlocks_and_leaves_the_address_bar(demo: LoopThread,
                                                                  browser: Any) -> None:
    d = browser
    d.get(demo.dash.control_url)
    wait(d, lambda d: d.find_element(By.ID, "kill").is_enabled(), "the controls to unlock")
    assert "token" not in d.current_url
    assert TOKEN not in d.page_source
    # change a risk limit from the page, confirmed in the dialog
    from selenium.webdriver.support.ui import Select

    Select(d.find_element(By.ID, "limit-scope")).select_by_value("coinbase:SKL-USD")
    Select(d.find_element(By.ID, "limit-name")).select_by_value("max_position")
    d.find_element(By.ID, "limit-value").send_keys("750.5")
    d.find_element(By.ID, "limit-apply").click()
    wait(d, lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None,
         "the confirmation dialog")
    assert "750.5" in text(d, "#confirm-text")
    d.find_element(By.ID, "confirm-ok").click()
    wait(d, lambda d: text(d, "#limit-current") == "750.5", "the new limit on the page")
    skl = next(i for i in demo.engine.instruments if i.symbol == "SKL-USD")
    assert demo.call(lambda: demo.engine.risk.limits(skl).max_position) == skl.qty("750.5")
    wait(d, lambda d: "max_position" in text(d, "#usage"), "the limit's usage")
