"""Who gets the pages: login with the token, the session cookie, CSRF, hostile events, modes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import DaemonProcess, http, wait_for
from tests.ui.support import (
    SECRET,
    TOKEN,
    Billing,
    Browserless,
    csrf_of,
    post_event,
    start_daemon,
    wait_finished,
)


@pytest.fixture(scope="module")
def billing() -> Iterator[Billing]:
    served = Billing()
    yield served
    served.close()


@pytest.fixture
def daemon(daemons: Callable[..., DaemonProcess], tmp_path: Path, billing: Billing
           ) -> DaemonProcess:
    return start_daemon(daemons, tmp_path, billing)


def pages_of(client: Browserless, job_id: str) -> dict[str, str]:
    found = {}
    for path in ("/ui/", "/ui/jobs", f"/ui/jobs/{job_id}", "/ui/jobs?status=failed",
                 f"/ui/jobs/{job_id}?partial=1", "/ui/jobs?partial=rows"):
        status, headers, html = client.request("GET", path)
        assert status == 200, (path, html)
        found[path] = html
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert headers["X-Frame-Options"] == "DENY"
    return found


def test_every_page_needs_the_login_and_the_cookie_is_strict(daemon: DaemonProcess) -> None:
    client = Browserless(daemon.url)
    for path in ("/ui/", "/ui/jobs", "/ui/jobs/anything"):
        status, headers, _ = client.request("GET", path)
        assert status == 303 and headers["Location"].startswith("/ui/login?next="), path
    assert client.request("GET", "/ui/jobs?partial=rows")[0] == 401
    assert client.request("GET", "/", )[0] == 302
    # A forged or tampered cookie is no session.
    forged = Browserless(daemon.url)
    status, _, _ = forged.request("GET", "/ui/jobs", headers={
        "Cookie": "runner_session=9999999999.abc.def"})
    assert status == 303

    status, headers, html = client.login(token="not-the-token")
    assert status == 401 and "not the daemon" in html
    assert client.request("GET", "/ui/jobs")[0] == 303

    status, headers, _ = client.login()
    assert status == 303 and headers["Location"] == "/ui/jobs"
    cookie = headers["Set-Cookie"]
    assert "runner_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert re.search(r"Max-Age=\d+", cookie)
    assert TOKEN not in cookie
    assert client.request("GET", "/ui/jobs")[0] == 200


def test_a_login_without_the_forms_csrf_value_is_refused(daemon: DaemonProcess) -> None:
    client = Browserless(daemon.url)
    status, _, html = client.request("POST", "/ui/login", {"token": TOKEN})
    assert status == 403 and "stale" in html
    status, _, page = client.request("GET", "/ui/login")
    status, _, _ = client.request("POST", "/ui/login",
                                  {"token": TOKEN, "csrf": csrf_of(page)},
                                  headers={"Origin": "https://evil.example"})
    assert status == 403


def test_logout_ends_the_session_for_its_cookie(daemon: DaemonProcess) -> None:
    client = Browserless(daemon.url)
    client.login()
    _, _, html = client.request("GET", "/ui/jobs")
    cookie = next(c for c in client.jar if c.name == "runner_session").value
    assert client.request("POST", "/ui/logout", {"csrf": csrf_of(html)})[0] == 303
    replayed = Browserless(daemon.url)  # the old cookie, kept by someone, no longer works
    status, _, _ = replayed.request("GET", "/ui/jobs", headers={"Cookie": f"runner_session={cookie}"})
    assert status == 303


def test_a_post_without_the_csrf_token_is_refused(daemon: DaemonProcess, billing: Billing
                                                  ) -> None:
    billing.fixed = False
    job_id = post_event(daemon)
    assert wait_finished(daemon, job_id)["status"] == "failed"
    client = Browserless(daemon.url)
    client.login()
    _, _, html = client.request("GET", f"/ui/jobs/{job_id}")
    for form in ({"from": "failed"}, {"from": "failed", "csrf": "forged"}):
        status, _, page = client.request("POST", f"/ui/jobs/{job_id}/replay", form)
        assert status == 403 and "stale" in page
    status, _, _ = client.request("POST", f"/ui/jobs/{job_id}/replay",
                                  {"from": "failed", "csrf": csrf_of(html)},
                                  headers={"Origin": "http://evil.example"})
    assert status == 403
    jobs = json.loads(http("GET", f"{daemon.url}/api/jobs",
                           headers={"Authorization": f"Bearer {TOKEN}"})[1])["jobs"]
    assert [j["id"] for j in jobs] == [job_id]  # nothing was queued
    status, headers, _ = client.request("POST", f"/ui/jobs/{job_id}/replay",
                                        {"from": "failed", "csrf": csrf_of(html)})
    assert status == 303 and headers["Location"].startswith("/ui/jobs/")


def test_a_hostile_event_is_text_on_every_page_and_no_secret_shows(
    daemon: DaemonProcess, billing: Billing
) -> None:
    billing.fixed = False
    job_id = post_event(daemon)
    wait_finished(daemon, job_id)
    assert billing.keys and billing.keys[-1] == SECRET  # the key was sent, and echoed back
    client = Browserless(daemon.url)
    client.login()
    pages = pages_of(client, job_id)
    for path, html in pages.items():
        assert SECRET not in html, path
        assert TOKEN not in html, path
        assert "<script>document" not in html and "<img src=x" not in html, path
        assert 'href="javascript:' not in html.replace(" ", ""), path
        assert " style=" not in html and "onerror=\"" not in html, path
        # Only the one script, by URL: nothing inline.
        assert re.findall(r"<script[^>]*>", html) in ([], ['<script src="/ui/static/ui.js" defer>'])
    job_page = pages[f"/ui/jobs/{job_id}"]
    assert "&lt;script&gt;document.title=" in job_page
    assert "javascript:document.title=" in job_page  # shown, as text
    assert "billing is down for maintenance" in job_page


def test_without_a_token_the_pages_answer_on_loopback_only_to_loopback_names(
    daemons: Callable[..., DaemonProcess], tmp_path: Path, billing: Billing
) -> None:
    daemon = start_daemon(daemons, tmp_path, billing, env={"RUNNER_API_TOKEN": ""})
    client = Browserless(daemon.url)
    status, _, html = client.request("GET", "/ui/jobs")
    assert status == 200 and "Log out" not in html
    assert http("GET", f"{daemon.url}/api/jobs")[0] == 200  # the API too, without a header
    # DNS rebinding: a page of evil.example resolving to 127.0.0.1 names its own host.
    assert client.request("GET", "/ui/jobs", headers={"Host": "evil.example"})[0] == 403
    assert http("GET", f"{daemon.url}/api/jobs", headers={"Host": "evil.example"})[0] == 403
    job_id = post_event(daemon, {"name": "x", "link": "y", "quote": "z"})
    wait_finished_local(daemon, job_id)
    _, _, html = client.request("GET", f"/ui/jobs/{job_id}")
    status, _, _ = client.request("POST", f"/ui/jobs/{job_id}/replay",
                                  {"csrf": csrf_of(html)}, headers={"Origin": "http://evil.example"})
    assert status == 403
    status, body = http("POST", f"{daemon.url}/api/jobs/{job_id}/replay",
                        headers={"Origin": "http://evil.example"})
    assert status == 403 and json.loads(body)["error"]["code"] == "cross-site"
    assert client.request("POST", f"/ui/jobs/{job_id}/replay", {"csrf": csrf_of(html)})[0] == 303


def wait_finished_local(daemon: DaemonProcess, job_id: str) -> None:
    def done() -> bool:
        status, body = http("GET", f"{daemon.url}/api/jobs/{job_id}")
        return status == 200 and json.loads(body)["status"] in ("succeeded", "failed")
    wait_for(done, 15, f"job {job_id}")


def test_bound_beyond_loopback_without_a_token_the_pages_and_api_are_off_and_serve_says_why(
    daemons: Callable[..., DaemonProcess], tmp_path: Path, billing: Billing
) -> None:
    daemon = start_daemon(daemons, tmp_path, billing, env={"RUNNER_API_TOKEN": ""},
                          args=["--host", "0.0.0.0"])
    status, body = http("GET", f"{daemon.url}/ui/")
    assert status == 404
    status, body = http("GET", f"{daemon.url}/api/jobs")
    assert status == 404 and json.loads(body)["error"]["code"] == "api-disabled"
    warnings = [e for e in daemon.log_entries() if e.get("level") == "warning"]
    assert any("pages and the jobs API are off" in e["message"] and "0.0.0.0" in e["message"]
               for e in warnings), warnings
    assert daemon.stop() == 0


def test_runner_ui_false_turns_the_pages_off_and_leaves_the_api(
    daemons: Callable[..., DaemonProcess], tmp_path: Path, billing: Billing
) -> None:
    daemon = start_daemon(daemons, tmp_path, billing, env={"RUNNER_UI": "false"})
    assert http("GET", f"{daemon.url}/ui/jobs")[0] == 404
    assert http("GET", f"{daemon.url}/")[0] == 404
    assert http("GET", f"{daemon.url}/api/jobs",
                headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
