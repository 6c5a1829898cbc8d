"""The operator console in a real browser: Debian's headless Chromium, driven by Playwright,
against a served instance with data. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.served import CMEM, Served, wait_pending_zero

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("CMEM_TEST_ARTEFACTS", ROOT / "test-artifacts")) / "console"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOPICS = ["pears in the orchard", "the bike commute", "tax forms", "a trip to Lisbon"]

if not Path(CHROMIUM).exists():  # `make test` installs it; a bare pytest run may not have
    pytest.skip(
        f"{CHROMIUM} is missing: run `make test` (installs chromium)", allow_module_level=True
    )

from playwright.sync_api import ConsoleMessage, Page, sync_playwright  # noqa: E402


class Site:
    """The served instance, its admin key and what the tests wrote."""

    def __init__(self, served: Served, key: str) -> None:
        self.served = served
        self.key = key
        self.url = served.url
        self.snapshot_id = ""

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("console")
    key = subprocess.run(  # our own cmem, fixed arguments
        [
            CMEM,
            "keys",
            "create",
            "--tenant",
            "acme",
            "--role",
            "admin",
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    served = Served(data_dir, env={"CMEM_EMBEDDING_MODEL_PATH": "hashing"})
    served.wait_ready()
    site = Site(served, key)
    with site.http() as http:
        turns = [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"Turn {i} about {TOPICS[(i // 10) % 4]}: " + "details " * 40,
            }
            for i in range(80)
        ]
        for start in range(0, 80, 20):
            r = http.post(
                "/v1/sessions/chat/messages",
                json={"user_id": "ana", "messages": turns[start : start + 20]},
            )
            assert r.status_code == 201, r.text
        http.post(
            "/v1/sessions/other/messages",
            json={"user_id": "bob", "messages": [{"role": "user", "content": "hello there"}]},
        )
        http.put("/v1/sessions/chat/state", json={"state": {"plan": "visit the orchard"}})
        http.post("/v1/facts", json={"user_id": "ana", "text": "Ana likes pears", "key": "fruit"})
        http.post("/v1/facts", json={"user_id": "ana", "text": "Ana likes figs", "key": "fruit"})
        http.put("/v1/documents/handbook", json={"text": "The orchard opens at nine. " * 40})
        wait_pending_zero(http, "chat")
        deadline = time.monotonic() + 60
        while not http.get("/v1/sessions/chat").json().get("summary"):
            assert time.monotonic() < deadline, "no summary was folded"
            time.sleep(0.2)
        ctx = http.post(
            "/v1/context",
            json={"session_id": "chat", "user_id": "ana", "budget_tokens": 600, "query": "pears"},
        )
        site.snapshot_id = ctx.json()["snapshot_id"]
    yield site
    served.stop()


@pytest.fixture(scope="module")
def browser_page(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    shutil.rmtree(ARTEFACTS, ignore_errors=True)
    ARTEFACTS.mkdir(parents=True)
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        page = context.new_page()
        yield page
        context.close()


class Errors:
    """Console errors and uncaught page errors of one page load."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        self._page = page
        page.on("console", self._console)
        page.on("pageerror", self._error)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(message.text)

    def _error(self, error: Any) -> None:
        self.seen.append(str(error))

    def close(self) -> None:
        self._page.remove_listener("console", self._console)
        self._page.remove_listener("pageerror", self._error)


def visit(page: Page, site: Site, path: str, name: str) -> Page:
    errors = Errors(page)
    response = page.goto(site.url + path)
    assert response is not None
    assert response.status == 200, page.content()
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    errors.close()
    assert errors.seen == [], errors.seen
    return page


def test_01_sign_in_with_an_admin_key(site: Site, browser_page: Page) -> None:
    page = browser_page
    page.goto(site.url + "/console/sessions")
    assert "/console/login" in page.url
    page.fill("#key", "cmem_not-a-key")
    page.click("button[type=submit]")
    assert "not an admin key" in page.inner_text("main")
    page.fill("#key", site.key)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/sessions")
    cookie = next(c for c in page.context.cookies() if c["name"] == "cmem_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"


def test_02_overview(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, "/console", "overview")
    text = page.inner_text("main")
    assert "ready" in text
    assert page.inner_text("#sessions") == "2"
    assert page.inner_text("#users") == "2"
    assert page.inner_text("#facts") == "1"  # figs; pears was superseded
    assert "stale chunks awaiting the sweep" in text
    assert "No failed jobs." in text
    # The sessions-by-size chart: one column per bucket, hover titles with counts.
    titles = page.locator("svg[aria-label='sessions by number of messages'] rect title")
    assert titles.count() == 14
    assert "≤1: 1" in titles.all_text_contents()  # "other" has one turn


def test_03_sessions(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, "/console/sessions", "sessions")
    rows = page.locator("main table tr").all_inner_texts()
    assert rows[1].split("\t")[:3] == ["other", "bob", "1"]  # latest turn first
    assert rows[2].split("\t")[:3] == ["chat", "ana", "80"]


def test_04_session_timeline(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, "/console/sessions/chat", "session")
    text = page.inner_text("main")
    assert "Covers turns 0\u2013" in text
    assert "visit the orchard" in text  # working memory
    states = page.locator("svg[aria-label='turn states'] rect").count()
    assert states == 80
    # Folded into the summary: trimmed from the log (or kept, summarized, at full fidelity).
    assert page.locator("td span.badge.trimmed, td span.badge.summarized").count() > 0
    assert page.locator("td span.badge.indexed").count() > 0
    assert "Turn 79 about" in text
    assert site.snapshot_id in text  # the context assembled for it


def test_05_snapshot(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, f"/console/snapshots/{site.snapshot_id}", "snapshot")
    with site.http() as http:
        body = http.get(f"/v1/snapshots/{site.snapshot_id}").json()
    text = page.inner_text("main")
    assert f"{body['usage']['total']} of 600 tokens" in text
    bars = page.locator("svg[aria-label='tokens per component'] rect title").all_text_contents()
    assert sorted(bars) == sorted(
        f"{k}: {v} tokens" for k, v in body["usage"]["by_component"].items()
    )
    assert f"Included ({len(body['items'])})" in text
    assert f"Excluded ({len(body['excluded'])})" in text
    assert body["messages"][-1]["content"][:40] in text  # the messages as sent


def test_06_facts_of_a_user(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, "/console/facts?user_id=ana", "facts")
    text = page.inner_text("main")
    assert "Current (1)" in text
    assert "History (1)" in text
    assert "Ana likes figs" in text
    assert page.locator("span.badge.superseded").inner_text() == "superseded"
    # The superseded fact links to the one that replaced it, on the same page.
    link = page.locator("a[href^='#fact-']").first
    target = link.get_attribute("href")
    assert target is not None
    assert "Ana likes figs" in page.inner_text(target)


def test_07_documents(site: Site, browser_page: Page) -> None:
    page = visit(browser_page, site, "/console/documents", "documents")
    text = page.inner_text("main")
    assert "handbook" in text
    assert page.locator("tr:has-text('handbook') span.badge.live").inner_text() == "live"
    versions = page.locator("td.muted span.badge.live").all_inner_texts()
    assert len(versions) == 1  # one version, live
    assert "chunks" in versions[0]


def test_08_invalidate_with_confirmation_then_jobs_and_audit(
    site: Site, browser_page: Page
) -> None:
    page = visit(browser_page, site, "/console/actions", "actions")
    page.fill("#session_id", "chat")
    page.click("form:has(input[value=invalidate]) button[type=submit]")
    page.wait_for_url("**/console/actions/confirm")
    assert "session_id" in page.inner_text("main")
    assert "chat" in page.inner_text("main")
    page.screenshot(path=str(ARTEFACTS / "confirm.png"), full_page=True)
    page.click("button.danger")
    page.wait_for_url("**/console/jobs?started=*")
    started = page.url.split("started=")[1]
    assert started in page.inner_text("main")
    visit(page, site, "/console/jobs", "jobs")
    assert "admin.invalidate" in page.inner_text("main")
    audit = visit(page, site, "/console/audit", "audit").inner_text("main")
    assert "drop" in audit
    assert "chat" in audit
    assert started in audit


def test_09_a_missing_session_is_a_page_not_a_stack_trace(site: Site, browser_page: Page) -> None:
    response = browser_page.goto(site.url + "/console/sessions/nope")
    assert response is not None
    assert response.status == 404
    assert "session 'nope' not found" in browser_page.inner_text("main")
