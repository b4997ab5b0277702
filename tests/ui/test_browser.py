"""The on-call story in a real headless Chromium: log in, find the failed job, read the failing
step's response, fix the API, retry from the failed step, see the job succeed without the first
step sent again. Screenshots of the three pages are saved under the test's tmp dir.

Needs Debian's chromium and chromium-driver: RUNNER_TEST_CHROMEDRIVER names the driver (.ci/run
installs both and sets it), RUNNER_TEST_CHROMIUM the browser (default /usr/bin/chromium).
RUNNER_UPDATE_SCREENSHOTS=1 also copies the job page's screenshot to docs/job-page.png.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.conftest import DaemonProcess
from tests.ui.support import HOSTILE, TOKEN, Billing, post_event, start_daemon, wait_finished

DRIVER = os.environ.get("RUNNER_TEST_CHROMEDRIVER")
BROWSER = os.environ.get("RUNNER_TEST_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
WAIT = 15.0

pytestmark = pytest.mark.skipif(
    not DRIVER, reason="RUNNER_TEST_CHROMEDRIVER is not set: no Chromium to drive (.ci/run "
    "installs Debian's chromium and chromium-driver and sets it)")


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    profile = tempfile.mkdtemp(prefix="runner-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--disable-dev-shm-usage",
                 "--window-size=1400,1800", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    last: Exception | None = None
    while True:
        try:
            value = check()
        except Exception as exc:  # noqa: BLE001 -- an element mid-refresh; look again
            value, last = None, exc
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT}s waiting for {what} (last error: {last!r})")
        time.sleep(0.1)


def test_find_the_failed_job_read_its_response_fix_and_retry_from_the_failed_step(
    browser: Any, daemons: Callable[..., DaemonProcess], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    billing = Billing()
    try:
        daemon = start_daemon(daemons, tmp_path, billing)
        failed_id = post_event(daemon)
        assert wait_finished(daemon, failed_id)["status"] == "failed"
        assert billing.counts == {"/invoices": 1, "/notify": 1}

        # Not logged in: any page sends the browser to the login form, which comes back.
        browser.get(f"{daemon.url}/ui/jobs")
        assert "/ui/login" in browser.current_url
        browser.find_element(By.ID, "token").send_keys(TOKEN)
        browser.find_element(By.ID, "login").click()
        until("the jobs page", lambda: browser.current_url.endswith("/ui/jobs"))

        browser.get(f"{daemon.url}/ui/")
        row = browser.find_element(By.CSS_SELECTOR, 'tr[data-recipe="billing-sync"]')
        assert "webhook POST /webhooks/billing" in row.text and "100%" in row.text
        browser.save_screenshot(str(tmp_path / "recipes.png"))

        browser.find_element(By.LINK_TEXT, "Jobs").click()
        failed_row = until("the failed job's row", lambda: browser.find_element(
            By.CSS_SELECTOR, f'tr[data-job="{failed_id}"][data-status="failed"]'))
        assert "billing-sync" in failed_row.text
        browser.save_screenshot(str(tmp_path / "jobs.png"))
        failed_row.find_element(By.CSS_SELECTOR, "a.id").click()

        until("the job page", lambda: failed_id in browser.current_url)
        step = browser.find_element(By.ID, "step-notify")
        assert "failed" in step.find_element(By.CSS_SELECTOR, ".badge").text
        response = step.find_element(By.CSS_SELECTOR, ".response")
        assert "500" in response.text
        assert "billing is down for maintenance" in response.text  # the body, folded as a tree
        failure = browser.find_element(By.CSS_SELECTOR, "section.failure")
        assert "notify" in failure.text
        event = browser.find_element(By.CSS_SELECTOR, "section.event").text
        assert HOSTILE["name"] in event and HOSTILE["link"] in event  # text, never markup
        assert browser.title != "pwned"
        browser.save_screenshot(str(tmp_path / "job.png"))
        if os.environ.get("RUNNER_UPDATE_SCREENSHOTS"):
            shutil.copy(tmp_path / "job.png", ROOT / "docs" / "job-page.png")

        billing.fixed = True
        browser.find_element(By.ID, "retry").click()
        until("the new job's page", lambda: failed_id not in browser.current_url
              and "/ui/jobs/" in browser.current_url)
        retry_id = browser.current_url.rsplit("/", 1)[1]
        # ui.js refreshes the page while the job runs: no reload here.
        until("the retry to succeed", lambda: browser.find_element(
            By.CSS_SELECTOR, '#job-main[data-status="succeeded"]'))
        reused = browser.find_element(By.ID, "step-create_invoice").text
        assert f"Reused from job {failed_id}" in reused
        assert billing.counts == {"/invoices": 1, "/notify": 2}  # the invoice: not again
        assert f"Replay of\n{failed_id}" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
        browser.save_screenshot(str(tmp_path / "retried.png"))
        assert wait_finished(daemon, retry_id)["status"] == "succeeded"
        assert browser.title != "pwned"
        for name in ("recipes.png", "jobs.png", "job.png", "retried.png"):
            assert (tmp_path / name).stat().st_size > 10_000, name
    finally:
        billing.close()
