"""The job page's chapters in headless Chromium: the list seeks the player, the track loads."""

from __future__ import annotations

import os
import shutil

import pytest

from jobs.models import Job
from tests.conftest import submit_deck

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
SLIDES = [
    ("Opening", "Welcome to the talk."),
    ("Middle part", ""),
    ("Closing", "Thank you for listening."),
]


@pytest.fixture
def completed_job(deck_path, user, persona, run_worker, work_dir) -> Job:
    job = submit_deck(deck_path(SLIDES), user, persona, resolution="1280x720")
    [job] = run_worker([job.id], timeout=240)
    assert job.status == Job.Status.COMPLETED, job.error
    return job


def test_clicking_a_chapter_moves_the_player_to_its_slide(completed_job: Job, live_server):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API
    from playwright.sync_api import sync_playwright

    starts = [slide.start_seconds for slide in completed_job.slides.order_by("index")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "alice-password-1")
        page.click("button[type=submit], input[type=submit]")
        page.goto(f"{live_server.url}/jobs/{completed_job.id}/")

        chapters = page.locator("#chapters a.chapter")
        assert chapters.all_inner_texts() == ["Opening", "Middle part", "Closing"]
        chapters.nth(2).click()
        seeked = page.evaluate("document.getElementById('player').currentTime")
        assert seeked == pytest.approx(starts[2], abs=0.05)
        chapters.nth(1).click()
        assert page.evaluate("document.getElementById('player').currentTime") == pytest.approx(
            starts[1], abs=0.05
        )

        # The chapters track loads with one cue per slide, titled as the list.
        page.evaluate("document.getElementById('chapters-track').track.mode = 'hidden'")
        page.wait_for_function(
            "document.getElementById('chapters-track').track.cues?.length === 3", timeout=10_000
        )
        titles = page.evaluate(
            "Array.from(document.getElementById('chapters-track').track.cues, c => c.text)"
        )
        assert titles == ["Opening", "Middle part", "Closing"]
        browser.close()
