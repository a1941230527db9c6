"""The players in headless Chromium: storyboard thumbnails while scrubbing, HLS through hls.js."""

from __future__ import annotations

import os
import shutil

import pytest

from jobs.media.models import MediaJob
from jobs.models import Job
from jobs.worker.inprocess import in_process_worker
from tests.conftest import clear_queue, submit_deck, wait_for_jobs
from tests.jobs.media.conftest import submit_media, wait_for_media

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip


def _logged_in_page(playwright, live_server):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password-1")
    page.click("button[type=submit], input[type=submit]")
    return browser, page


def test_scrubbing_a_narration_shows_its_storyboard_and_hls_plays(
    user, persona, deck_path, settings, work_dir, live_server, short_video
):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API
    from playwright.sync_api import sync_playwright

    settings.SLIDECAST = {**settings.SLIDECAST, "AUTO_PREVIEW": True}
    clear_queue()
    job = submit_deck(deck_path([("One", "A first slide to look at."), ("Two", "And a second.")]),
                      user, persona, resolution="1280x720")  # fmt: skip
    with in_process_worker(queues=["cpu", "gpu"]):
        [job] = wait_for_jobs([job.id], timeout=240)
        assert job.status == Job.Status.COMPLETED, job.error
        hls = submit_media(short_video, user, "hls", {"renditions": ["360p"]})
        wait_for_media([hls.id], timeout=120)
        preview = MediaJob.objects.get(source_job=job, operation="preview")
        [preview] = wait_for_media([preview.id], timeout=120)
    assert preview.status == "completed", preview.error

    with sync_playwright() as playwright:
        browser, page = _logged_in_page(playwright, live_server)
        page.goto(f"{live_server.url}/jobs/{job.id}/")
        bar = page.locator("input.scrub")
        page.wait_for_function("document.querySelector('input.scrub').dataset.thumbnails > 0")
        box = bar.bounding_box()
        bar.hover(position={"x": box["width"] * 0.8, "y": box["height"] / 2})
        tip = page.locator(".scrub-thumb")
        assert tip.is_visible()
        assert "storyboard-1.jpg" in tip.evaluate("el => el.style.backgroundImage")
        poster = page.evaluate("document.getElementById('player').getAttribute('poster')")
        assert poster.endswith("/poster.jpg")

        page.goto(f"{live_server.url}/media/{hls.id}/")
        page.wait_for_selector("#hls-player")
        assert page.evaluate("document.getElementById('hls-player').dataset.engine") == "hls.js"
        page.wait_for_function(
            "document.getElementById('hls-player').duration > 2.5", timeout=20_000
        )
        browser.close()
