"""The ads pages: owner-only access, the CSV upload's report, decisions on budget suggestions,
fresh creatives, and the charts as a browser shows them (headless Chromium via Playwright)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jobs.ads import budgets, fatigue, winners
from jobs.ads.models import (
    Ad,
    AdsAuditEntry,
    AdSnapshot,
    BudgetSuggestion,
    Campaign,
    FatigueFinding,
)
from jobs.models import Job, Persona, Slide
from tests.conftest import clear_queue, submit_deck
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

pytestmark = pytest.mark.django_db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
HISTORY_DAYS = 40
ORCHARD = (
    "Our apple orchard harvest is picked by hand. Fresh apples and pears from the orchard, "
    "pressed into cider the same day"
)


@dataclass
class World:
    campaign: Campaign
    steady: Ad
    tired: Ad
    winner: Ad
    finding: FatigueFinding
    suggestion: BudgetSuggestion


def _world(user, persona) -> World:
    """A campaign of three ads with 40 days of history, and what the real analyses make of it:
    one ad wears out (CTR falls by half from day 20), one wins, the third holds steady."""
    campaign = make_campaign(user, name="Spring launch", currency="EUR")
    steady = make_ad(campaign, name="Steady explainer")
    tired = make_ad(campaign, name="Tired teaser")
    deck = Job.objects.create(owner=user, title="orchard.pptx", deck="jobs/orchard.pptx",
                              persona=persona, status="completed")  # fmt: skip
    for index, sentence in enumerate(ORCHARD.split(". "), start=1):
        Slide.objects.create(job=deck, index=index, source_number=index, notes=sentence)
    winner = make_ad(campaign, name="Orchard harvest story", narration_job=deck, persona=persona)
    write_history(steady, days=HISTORY_DAYS, ctr=0.03, conversion_rate=0.05, seed=1)
    write_history(
        tired, days=HISTORY_DAYS, seed=2, conversion_rate=0.05,
        ctr=lambda day: 0.03 if day < 20 else 0.03 * (1 - 0.025 * (day - 20)),
        frequency=lambda day: 1.2 + 0.05 * day,
    )  # fmt: skip
    write_history(winner, days=HISTORY_DAYS, ctr=0.04, conversion_rate=0.12, seed=3)
    fatigue.fatigue_pass()
    winners.winners_pass()
    suggestion = budgets.budget_suggest(campaign=campaign)
    assert suggestion is not None and suggestion.status == BudgetSuggestion.Status.PENDING
    finding = FatigueFinding.objects.get(ad=tired, metric="ctr", is_open=True)
    winner.refresh_from_db()
    assert winner.is_winner
    return World(campaign, steady, tired, winner, finding, suggestion)


@pytest.fixture
def world(user, persona) -> World:
    return _world(user, persona)


def _page(client, name: str, *args) -> str:
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


def test_the_ads_pages_need_a_login(client):
    for name in ("jobs:ads", "jobs:ads-winners"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_user_gets_404_for_campaigns_ads_and_suggestions(client, other_user, world):
    client.force_login(other_user)
    campaign, ad, suggestion = world.campaign, world.tired, world.suggestion
    for name, args in (("jobs:ads-campaign", [campaign.id]), ("jobs:ads-ad", [ad.id])):
        assert client.get(reverse(name, args=args)).status_code == 404
    posts = [
        ("jobs:ads-ad-create", [campaign.id], {"name": "Mine now", "daily_budget": "5"}),
        ("jobs:ads-suggestion-decide", [suggestion.id], {"decision": "accept"}),
        ("jobs:ads-ad-refresh", [ad.id], {"persona": Persona.objects.first().id}),
        ("jobs:ads-ad-fatigue", [ad.id], {}),
    ]
    for name, args, data in posts:
        assert client.post(reverse(name, args=args), data).status_code == 404, name
    suggestion.refresh_from_db()
    assert suggestion.status == BudgetSuggestion.Status.PENDING
    assert not Ad.objects.filter(name="Mine now").exists()
    home = _page(client, "jobs:ads")
    assert "Spring launch" not in home and "Tired teaser" not in home


def test_the_home_page_lists_campaigns_with_counts_and_open_findings(client, user, world):
    client.force_login(user)
    page = _page(client, "jobs:ads")
    assert "Spring launch" in page and "100.00 EUR" in page
    assert reverse("jobs:ads-campaign", args=[world.campaign.id]) in page
    assert 'id="findings"' in page and reverse("jobs:ads-ad", args=[world.tired.id]) in page
    assert world.finding.recommendation in page
    assert reverse("jobs:ads-winners") in page


def test_a_campaign_is_created_from_the_form_and_a_bad_one_explained(client, user):
    client.force_login(user)
    response = client.post(reverse("jobs:ads-campaign-create"), {
        "name": "Autumn", "platform": "tiktok", "daily_budget": "250.50", "currency": "gbp",
    })  # fmt: skip
    campaign = Campaign.objects.get(owner=user, name="Autumn")
    assert response["Location"] == reverse("jobs:ads-campaign", args=[campaign.id])
    assert campaign.currency == "GBP" and campaign.daily_budget == Decimal("250.50")
    response = client.post(reverse("jobs:ads-campaign-create"), {
        "name": "Bad utm", "platform": "meta", "daily_budget": "1", "currency": "USD",
        "utm_campaign": "has spaces in it",
    })  # fmt: skip
    assert response.status_code == 400
    assert "utm_campaign may hold letters, digits" in response.content.decode()
    assert not Campaign.objects.filter(name="Bad utm").exists()


def test_a_csv_upload_stores_good_rows_and_reports_each_refused_one(client, user, other_user):
    campaign = make_campaign(user)
    ad = make_ad(campaign, name="Csv ad", external_id="fb-1001")
    theirs = make_ad(make_campaign(other_user), external_id="fb-9999")
    yesterday = date.today() - timedelta(days=1)
    rows = [
        "Ad ID,Day,Impressions,Link clicks,Amount spent (USD)",
        f"fb-1001,{yesterday - timedelta(days=1)},1000,20,8.50",
        f"fb-1001,{yesterday},1200,30,9.10",
        f"fb-9999,{yesterday},500,5,1.00",  # another user's ad: unknown to this one
        "fb-1001,not-a-date,100,1,1.00",
        f"fb-1001,{yesterday - timedelta(days=2)},100,500,1.00",  # more clicks than impressions
    ]
    upload = SimpleUploadedFile("export.csv", "\n".join(rows).encode(), content_type="text/csv")
    client.force_login(user)
    response = client.post(reverse("jobs:ads-upload"), {"file": upload})
    page = response.content.decode()
    assert response.status_code == 200
    assert AdSnapshot.objects.filter(ad=ad).count() == 2
    assert not AdSnapshot.objects.filter(ad=theirs).exists()
    assert '<strong data-count="received">5</strong>' in page
    assert '<strong data-count="created">2</strong>' in page
    assert '<strong data-count="refused"' in page and ">3</strong>" in page
    table = page.split('id="upload-errors"', 1)[1].split("</table>", 1)[0]
    assert [f'<td class="num">{n}</td>' in table for n in (4, 5, 6)] == [True] * 3
    assert "Unknown ad" in table and "fb-9999" in table


def test_an_unusable_csv_is_refused_whole_with_its_reason(client, user):
    client.force_login(user)
    workbook = SimpleUploadedFile("export.xlsx", b"PK\x03\x04" + b"\x00" * 100)
    response = client.post(reverse("jobs:ads-upload"), {"file": workbook})
    assert response.status_code == 400
    assert "not a CSV file" in response.content.decode()
    header_only = SimpleUploadedFile("export.csv", b"ad_id,date\n")
    response = client.post(reverse("jobs:ads-upload"), {"file": header_only})
    assert response.status_code == 400 and "has no column for" in response.content.decode()


def test_a_new_ad_runs_one_of_the_users_finished_videos(client, user, persona):
    campaign = make_campaign(user)
    video = Job.objects.create(owner=user, title="pitch.pptx", persona=persona,
                               status="completed", resolution="1280x720")  # fmt: skip
    client.force_login(user)
    page = _page(client, "jobs:ads-campaign", campaign.id)
    assert f'value="job:{video.id}"' in page
    response = client.post(reverse("jobs:ads-ad-create", args=[campaign.id]), {
        "name": "Pitch, vertical", "daily_budget": "12.5", "video": f"job:{video.id}",
    })  # fmt: skip
    ad = Ad.objects.get(campaign=campaign)
    assert response["Location"] == reverse("jobs:ads-ad", args=[ad.id])
    assert ad.narration_job == video and ad.persona == persona and ad.preset.startswith("720p")
    page = _page(client, "jobs:ads-ad", ad.id)
    assert reverse("jobs:detail", args=[video.id]) in page and persona.name in page
    response = client.post(reverse("jobs:ads-ad-create", args=[campaign.id]), {
        "name": "Clash", "daily_budget": "1", "utm_content": ad.utm_content,
    })  # fmt: skip
    assert response.status_code == 400
    assert "Another ad already uses that utm_content" in response.content.decode()


def test_the_campaign_page_shows_spend_per_ad_results_and_the_suggestion(client, user, world):
    client.force_login(user)
    page = _page(client, "jobs:ads-campaign", world.campaign.id)
    assert 'class="chart stacked-bar-chart"' in page
    for ad in (world.steady, world.tired, world.winner):
        assert f'data-name="{ad.name}"' in page and f'data-ad="{ad.id}"' in page
    assert "Wearing out" in page and "Winner" in page
    assert world.suggestion.summary in page and 'value="accept"' in page
    for line in world.suggestion.lines.all():
        assert f"→ {line.suggested_budget}" in page


def test_accepting_a_suggestion_sets_the_budgets_and_records_who_decided(client, user, world):
    client.force_login(user)
    url = reverse("jobs:ads-suggestion-decide", args=[world.suggestion.id])
    response = client.post(url, {"decision": "accept", "note": "Looks right"}, follow=True)
    world.suggestion.refresh_from_db()
    assert world.suggestion.status == "accepted" and world.suggestion.decided_by == user
    assert world.suggestion.decision_note == "Looks right"
    for line in world.suggestion.lines.select_related("ad"):
        assert line.ad.daily_budget == line.suggested_budget
    page = response.content.decode()
    assert "Suggestion accepted" in page and "Accepted by alice" in page
    assert 'value="accept"' not in page
    assert AdsAuditEntry.objects.filter(action="budget_suggestion.accepted", actor=user).exists()
    # A second decision is refused with a message, not an error page.
    again = client.post(url, {"decision": "reject"}, follow=True)
    assert again.status_code == 200 and "can no longer be rejected" in again.content.decode()


def test_rejecting_a_suggestion_keeps_the_budgets(client, user, world):
    before = {ad.id: ad.daily_budget for ad in Ad.objects.filter(campaign=world.campaign)}
    client.force_login(user)
    url = reverse("jobs:ads-suggestion-decide", args=[world.suggestion.id])
    response = client.post(url, {"decision": "reject", "note": "Waiting for the sale"})
    assert response["Location"] == reverse("jobs:ads-campaign", args=[world.campaign.id])
    world.suggestion.refresh_from_db()
    assert world.suggestion.status == "rejected"
    after = {ad.id: ad.daily_budget for ad in Ad.objects.filter(campaign=world.campaign)}
    assert after == before
    assert client.post(url, {"decision": "maybe"}).status_code == 302


def test_the_ad_page_charts_its_days_and_marks_the_fatigue_alarm(client, user, persona, world):
    client.force_login(user)
    page = _page(client, "jobs:ads-ad", world.tired.id)
    assert "CTR and conversion rate per day, last 90 days" in page
    assert 'class="chart line-chart"' in page
    assert page.count('<circle class="point"') == 2 * HISTORY_DAYS  # CTR and conversion rate
    assert f'<g class="marker" data-day="{world.finding.alarm_day.isoformat()}"' in page
    assert "Baseline → recent" in page and world.finding.recommendation in page
    assert 'href="#refresh"' not in page  # no deck behind this ad to narrate again
    assert "no deck to narrate again" in page
    url = reverse("jobs:ads-ad-refresh", args=[world.tired.id])
    refused = client.post(url, {"persona": persona.id})
    assert refused.status_code == 400 and "upload a new creative" in refused.content.decode()


def test_check_for_fatigue_now_runs_the_check_for_that_ad(client, user):
    ad = make_ad(make_campaign(user), name="Fresh")
    write_history(ad, days=20, ctr=0.02)
    client.force_login(user)
    response = client.post(reverse("jobs:ads-ad-fatigue", args=[ad.id]), follow=True)
    ad.refresh_from_db()
    assert ad.fatigue_checked_at is not None and ad.fatigue == Ad.Fatigue.HEALTHY
    assert "Checked just now. Healthy" in response.content.decode()


def test_re_rendering_with_another_persona_starts_a_narration_of_the_same_deck(
    client, user, persona, deck_path
):
    clear_queue()
    source = submit_deck(deck_path([("Hello", "A first slide.")]), user, persona)
    ad = make_ad(make_campaign(user), name="Worn", narration_job=source, persona=persona)
    amy = Persona.objects.create(name="Amy (US English)", tts_engine="piper",
                                 voice="en_US-amy-medium", status="active")  # fmt: skip
    client.force_login(user)
    page = _page(client, "jobs:ads-ad", ad.id)
    assert f'<option value="{amy.id}">' in page
    response = client.post(
        reverse("jobs:ads-ad-refresh", args=[ad.id]), {"persona": amy.id, "resolution": "1280x720"}
    )
    job = Job.objects.exclude(id=source.id).get(owner=user)
    assert response["Location"] == reverse("jobs:detail", args=[job.id])
    assert job.persona == amy and job.resolution == "1280x720" and job.deck
    assert AdsAuditEntry.objects.filter(action="ad.creative_refresh").count() == 1


def test_a_persona_the_user_may_not_use_is_refused_on_the_form(client, user, other_user,
                                                                persona, deck_path):  # fmt: skip
    clear_queue()
    source = submit_deck(deck_path([("Hello", "A first slide.")]), user, persona)
    ad = make_ad(make_campaign(user), narration_job=source)
    private = Persona.objects.create(name="Mallory's own", owner=other_user, tts_engine="piper",
                                     voice="en_US-joe-medium", status="active")  # fmt: skip
    client.force_login(user)
    response = client.post(reverse("jobs:ads-ad-refresh", args=[ad.id]), {"persona": private.id})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Job.objects.filter(owner=user).count() == 1


def test_winners_are_listed_and_searched_by_words_or_by_deck(client, user, persona, world):
    client.force_login(user)
    page = _page(client, "jobs:ads-winners")
    assert "Orchard harvest story" in page and "Tired teaser" not in page
    found = client.get(reverse("jobs:ads-winners"), {"q": "apple orchard cider"})
    matches = found.content.decode().split('id="matches"', 1)[1]
    assert "Orchard harvest story" in matches and "Spring launch" in matches
    like = Job.objects.create(owner=user, title="pears.pptx", persona=persona)
    Slide.objects.create(job=like, index=1, source_number=1, notes="Pears and apples, fresh")
    by_deck = client.get(reverse("jobs:ads-winners"), {"job": like.id}).content.decode()
    assert "Orchard harvest story" in by_deck.split('id="matches"', 1)[1]
    empty = client.get(reverse("jobs:ads-winners"), {"q": "  "})
    assert empty.status_code == 200
    assert "Type some words, or choose one of your decks." in empty.content.decode()


def test_a_hostile_ad_name_is_escaped_on_every_page(client, user):
    campaign = make_campaign(user, name="<b>camp</b>")
    ad = make_ad(campaign, name='<script>alert("ad")</script>')
    write_history(ad, days=12, ctr=0.02)
    client.force_login(user)
    for name, args in (("jobs:ads", []), ("jobs:ads-campaign", [campaign.id]),
                       ("jobs:ads-ad", [ad.id])):  # fmt: skip
        page = _page(client, name, *args)
        assert "<script>alert" not in page and "<b>camp" not in page, name
        assert "&lt;script&gt;" in page or name == "jobs:ads"


# In the browser


def _screenshot_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SLIDECAST_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_ads_pages_in_a_browser(live_server, user, persona, tmp_path):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API
    from playwright.sync_api import sync_playwright

    world = _world(user, persona)
    shots = _screenshot_dir(tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "alice-password-1")
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}{reverse('jobs:ads-ad', args=[world.tired.id])}")
        chart = page.locator("svg.line-chart")
        assert chart.is_visible() and chart.bounding_box()["width"] > 800
        assert chart.locator('g.series[data-name="CTR"] circle').count() == HISTORY_DAYS
        assert chart.locator("g.bars rect").count() == HISTORY_DAYS
        marker = chart.locator(f'g.marker[data-day="{world.finding.alarm_day.isoformat()}"]')
        assert marker.count() == 1 and marker.is_visible()
        tip = marker.locator("title").text_content()
        assert tip.startswith(f"{world.finding.get_severity_display()} fatigue (CTR): down ")
        page.screenshot(path=str(shots / "ads_ad.png"), full_page=True)

        page.goto(f"{live_server.url}{reverse('jobs:ads-campaign', args=[world.campaign.id])}")
        bars = page.locator("svg.stacked-bar-chart")
        assert bars.is_visible()
        for ad in (world.steady, world.tired, world.winner):
            # The last 30 days, each with spend.
            assert bars.locator(f'g.series[data-name="{ad.name}"] rect').count() == 30
            assert bars.locator("g.legend-item", has_text=ad.name).is_visible()
        page.screenshot(path=str(shots / "ads_campaign.png"), full_page=True)
        page.fill("#decision-form input[name=note]", "Shift to the winner")
        page.get_by_role("button", name="Accept").click()
        page.locator("#suggestion-status", has_text="Accepted").wait_for()
        assert "Accepted by alice" in page.locator("#suggestion-decision").inner_text()

        page.goto(f"{live_server.url}{reverse('jobs:ads-winners')}")
        page.fill("input[name=q]", "orchard cider")
        page.get_by_role("button", name="Search").click()
        page.locator("#matches", has_text="Orchard harvest story").wait_for()
        page.screenshot(path=str(shots / "ads_winners.png"), full_page=True)

        csv = tmp_path / "results.csv"
        yesterday = date.today() - timedelta(days=1)
        csv.write_text(
            "ad_id,date,impressions,clicks,spend\n"
            f"{world.steady.id},{yesterday},5000,150,40\n"
            f"{world.steady.id},{yesterday},5000,150,40\n"
            f"nope,{yesterday},10,1,1\n"
        )
        page.goto(f"{live_server.url}{reverse('jobs:ads')}")
        page.set_input_files("#upload-form input[type=file]", str(csv))
        page.get_by_role("button", name="Upload").click()
        page.locator("#upload-errors", has_text="is not a Slidecast ad id").wait_for()
        assert page.locator("#campaigns", has_text="Spring launch").is_visible()
        page.screenshot(path=str(shots / "ads_home.png"), full_page=True)
        browser.close()
    # Checked here, not inside the block: a query under Playwright's event loop would open a
    # connection of its own that nobody closes (asgiref keeps connections per context).
    world.suggestion.refresh_from_db()
    assert world.suggestion.status == "accepted"
    assert world.suggestion.decision_note == "Shift to the winner"
