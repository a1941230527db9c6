"""The admin pages as an operator sees them, in headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import clear_queue
from tests.jobs.queue_helpers import defer, finish

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture
def browser_page(live_server, django_user_model, tmp_path):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API
    from playwright.sync_api import sync_playwright

    django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", "ops-pass-1")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        yield page
        browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SLIDECAST_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_dashboard_renders_and_refreshes_without_reloading(browser_page, live_server, tmp_path):
    clear_queue()
    for status in ("succeeded", "succeeded", "failed"):
        finish(defer(queue="cpu"), status)
    page = browser_page
    page.goto(f"{live_server.url}/admin/oversight/")
    for heading in ("Queues", "Workers", "Periodic tasks", "Worker hosts",
                    "Completed and failed jobs per minute, last hour"):  # fmt: skip
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    assert page.locator('tr[data-queue="cpu"] td[data-status="succeeded"]').inner_text() == "2"
    assert page.locator("svg.ov-chart rect.bad").count() == 1
    page.screenshot(path=str(screenshot_dir(tmp_path) / "dashboard.png"), full_page=True)

    page.evaluate("window.__sameDocument = true")
    defer(queue="cpu")
    todo = page.locator('tr[data-queue="cpu"] td[data-status="todo"]')
    todo.filter(has_text="1").wait_for(timeout=12_000)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, not reloaded
    assert "Last refreshed" in page.locator("#ov-refreshed").inner_text()


def test_every_oversight_admin_page_opens(browser_page, live_server, tmp_path):
    page = browser_page
    pages = {
        "index": ("/admin/", "Queues and workers dashboard"),
        "queue-jobs": ("/admin/procrastinate/procrastinatejob/", "Select procrastinate job"),
        "dead-letters": ("/admin/jobs/deadletter/", "Select dead letter"),
        "jobs": ("/admin/jobs/job/", "Select job"),
        "incidents": ("/admin/jobs/incident/", "Select incident"),
        "hosts": ("/admin/jobs/resourcesample/", "Select resource sample"),
    }
    for name, (path, text) in pages.items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert text in page.content(), path
        page.screenshot(path=str(screenshot_dir(tmp_path) / f"admin-{name}.png"), full_page=True)


def test_the_persona_page_uploads_ingests_and_shows_progress_live(
    browser_page, live_server, tmp_path, persona
):
    from jobs.personas import ingestion

    works = tmp_path / "orchard.txt"
    works.write_text(" ".join(f"Apple trees blossom in the orchard, row {n}." for n in range(50)))
    page = browser_page
    page.goto(f"{live_server.url}/admin/jobs/persona/{persona.id}/change/")
    page.select_option("#kn-part", "works")
    page.set_input_files("input[name=files]", str(works))
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("Stored for ingestion (works): orchard.txt.").wait_for()
    page.get_by_role("button", name="Ingest new and changed documents").click()
    page.get_by_text("Ingestion started.").wait_for()
    assert page.locator("#kn-persona-status").inner_text() == "ingesting"

    page.evaluate("window.__sameDocument = true")
    persona.refresh_from_db()
    ingestion.ingest_profile(persona_id=persona.id, run=persona.ingestion_run)  # a worker's part
    document = persona.knowledge_documents.get()
    ingestion.ingest_work(document_id=document.id, run=persona.ingestion_run)
    page.locator("#kn-persona-status", has_text="active").wait_for(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True  # refreshed in place
    row = page.locator("#kn-table tr", has_text="orchard.txt")
    assert "done" in row.inner_text()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "persona-knowledge.png"), full_page=True)

    page.fill("input[type=search][name=q]", "orchard blossom")
    page.get_by_role("button", name="Search").click()
    assert "Apple trees blossom in the orchard" in page.locator("#kn-hits").inner_text()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "persona-search.png"), full_page=True)
