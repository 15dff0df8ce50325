"""The chat page in headless Chromium (Debian's package) against a real `qa serve`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")


def _save(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / name)
    return path


def test_chat_page_answers_follow_ups_and_opens_citations(live_server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    base, _ = live_server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 760})
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(base + "/")
            answers = page.locator(".msg.bot")

            page.fill("#message", "Who chairs the harbour board?")
            page.press("#message", "Enter")
            answers.nth(0).wait_for()
            assert "Maria Lindqvist" in answers.nth(0).locator(".answer").inner_text()
            assert answers.nth(0).locator("blockquote").count() == 1

            page.fill("#message", "Where will she speak next month?")
            page.click("#send")
            answers.nth(1).wait_for()
            second = answers.nth(1)
            assert "Oslo" in second.locator(".answer").inner_text()
            assert "Understood as: Where will Maria Lindqvist speak next month?" in second.inner_text()

            page.fill("#message", "What colour is the moon's hat?")
            page.press("#message", "Enter")
            answers.nth(2).wait_for()
            assert "do not answer" in answers.nth(2).inner_text()
            _save(page, tmp_path, "chat.png")

            with context.expect_page() as opened:
                second.locator("a.cite").first.click()
            document = opened.value
            document.wait_for_load_state()
            mark = document.locator("mark#cited")
            assert "Oslo" in mark.inner_text()
            assert document.locator(".support").count() == 1
            assert document.evaluate(
                "() => { const r = document.getElementById('cited').getBoundingClientRect();"
                " return r.top >= 0 && r.bottom <= window.innerHeight; }")
            _save(document, tmp_path, "citation.png")

            # Reloading the page restores the conversation from the server.
            page.reload()
            answers.nth(2).wait_for()
            assert answers.count() == 3
        finally:
            browser.close()


def test_api_docs_render_without_internet(live_server, tmp_path):
    """/docs draws every operation with Swagger UI's files from this server; any request that
    leaves it (a CDN) is refused, as it would be offline."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    base, _ = live_server
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 760})
            context.set_default_timeout(30_000)

            def only_this_server(route):
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_this_server)
            page = context.new_page()
            page.goto(base + "/docs")
            page.locator(".opblock-summary-path", has_text="/ask").first.wait_for()
            assert page.locator(".opblock").count() >= 8
            _save(page, tmp_path, "api-docs.png")
        finally:
            browser.close()
    assert outside == []
