"""Browser tests: the console in headless Chromium from the distribution's packages
(`chromium`, `chromium-driver`), driven by Selenium, against the session's whole stack.

Each page visited is saved as a screenshot under VOKAFLOW_TEST_ARTIFACTS (default
test-artifacts/ in the checkout), at a desktop and a phone width, and checked by axe-core
(vendored here, for the tests only): no serious or critical violation."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from vokaflow.testing.stack import LocalStack

CHROMIUM = os.environ.get("VOKAFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VOKAFLOW_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ARTIFACTS = Path(
    os.environ.get("VOKAFLOW_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts")
)
DESKTOP, PHONE = (1280, 900), (390, 844)
# Chromium's own calls home are refused on a closed network; these keep it from trying.
QUIET_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class Console:
    """One browser on the console, with what the tests do to it."""

    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def sign_in(self, credential: str) -> None:
        self.open("/console/sign-in")
        self.driver.find_element(By.ID, "credential").send_keys(credential)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait_for(lambda d: "/console/overview" in d.current_url)

    def sign_out(self) -> None:
        self.driver.delete_all_cookies()

    def wait_for(self, condition: Any, timeout_s: float = 30) -> Any:
        """Until ``condition`` holds; an element that htmx swapped out meanwhile is looked
        for again."""
        ignored = (NoSuchElementException, StaleElementReferenceException)
        wait = WebDriverWait(self.driver, timeout_s, 0.2, ignored_exceptions=ignored)
        return wait.until(condition)

    def text_of(self, element_id: str) -> str:
        return str(self.driver.find_element(By.ID, element_id).text)

    def fetch_status(self, path: str, method: str = "GET") -> int:
        """The HTTP status the page's own fetch gets (with the browser's cookies)."""
        script = (
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: arguments[1], credentials: 'same-origin'})"
            ".then(r => done(r.status)).catch(e => done(-1));"
        )
        return int(self.driver.execute_async_script(script, self.base_url + path, method))

    def axe_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        self.driver.execute_script(AXE.read_text())
        script = (
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e)}]));"
        )
        found = self.driver.execute_async_script(script)
        return [v for v in found if v.get("impact") in ("serious", "critical")]

    def screenshots(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            self.driver.set_window_size(width, height)
            self.driver.save_screenshot(str(ARTIFACTS / f"console-{name}-{label}.png"))
        self.driver.set_window_size(*DESKTOP)

    def page_overflows_sideways(self) -> bool:
        """True when the page itself scrolls sideways (wide tables scroll in their box)."""
        return bool(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth > window.innerWidth + 1"
            )
        )


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in QUIET_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="vokaflow-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
        chrome = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        chrome.set_script_timeout(30)
        try:
            yield chrome
        finally:
            chrome.quit()


@pytest.fixture
def console(driver: webdriver.Chrome, stack: LocalStack) -> Iterator[Console]:
    driver.delete_all_cookies()
    yield Console(driver, stack.base_url)
    driver.delete_all_cookies()


def new_key(stack: LocalStack, name: str) -> str:
    created = stack.cli("keys", "create", "--name", name)
    return created.stdout.strip().splitlines()[-1]


def task_id_in(url: str) -> str:
    match = re.search(r"/console/tasks/([^/?#]+)", url)
    assert match, url
    return match.group(1)
