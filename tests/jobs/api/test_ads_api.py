"""The ads endpoints through HTTP: campaigns, ads, snapshots, metrics, fatigue, winners, budgets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from jobs.ads import winners
from jobs.ads.models import (
    Ad,
    AdSnapshot,
    BudgetSuggestion,
    BudgetSuggestionLine,
    Campaign,
    FatigueFinding,
)
from jobs.media.models import MediaJob
from jobs.models import Job, Persona, Slide
from tests.conftest import submit_deck
from tests.jobs.ads.factories import make_ad, make_campaign, write_history
from tests.jobs.api.conftest import auth

pytestmark = pytest.mark.django_db


def post(client, token, path: str, body=None):
    return client.post(path, json.dumps(body or {}), content_type="application/json", **auth(token))


def patch(client, token, path: str, body):
    return client.patch(path, json.dumps(body), content_type="application/json", **auth(token))


def get(client, token, path: str, params=None):
    return client.get(path, params or {}, **auth(token))


def error_of(response) -> dict:
    return response.json()["error"]


def narration(user, persona, *, notes: str = "", **fields) -> Job:
    job = Job.objects.create(owner=user, title="talk.pptx", persona=persona, **fields)
    if notes:
        Slide.objects.create(job=job, index=1, source_number=1, notes=notes)
    return job


def yesterday() -> date:
    return date.today() - timedelta(days=1)


# Campaigns


def test_a_campaign_is_created_read_and_changed_in_part(client, token):
    created = post(client, token, "/api/ads/campaigns", {
        "name": "Spring launch", "platform": "google", "external_id": "g-1",
        "daily_budget": "150.5", "currency": "eur", "starts_on": "2025-03-01",
    })  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["daily_budget"] == "150.50" and body["currency"] == "EUR"
    assert body["platform"] == "google" and body["status"] == "active"
    assert (body["ad_count"], body["winner_count"], body["fatigued_count"]) == (0, 0, 0)
    path = f"/api/ads/campaigns/{body['id']}"
    changed = patch(client, token, path, {"daily_budget": 90, "status": "paused"})
    assert changed.status_code == 200, changed.content
    after = changed.json()
    assert after["daily_budget"] == "90.00" and after["status"] == "paused"
    assert after["name"] == "Spring launch" and after["starts_on"] == "2025-03-01"
    assert patch(client, token, path, {"starts_on": None}).json()["starts_on"] is None
    shown = get(client, token, path).json()
    assert shown["starts_on"] is None and shown["daily_budget"] == "90.00"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "x", "currency": "U1D"}, "currency", "ISO 4217"),
        ({"name": "x", "starts_on": "2025-05-02", "ends_on": "2025-05-01"}, "ends_on", "before"),
        ({"name": "x", "daily_budget": "-1"}, "daily_budget", "greater than or equal"),
        ({"name": "x", "daily_budget": "12.345"}, "daily_budget", "decimal places"),
        ({"name": "x", "utm_campaign": "spaces are bad"}, "utm_campaign", "letters, digits"),
        ({"name": "", "platform": "myspace"}, "name", "at least 1"),
    ],
)
def test_bad_campaign_values_are_422_naming_the_field(client, token, body, field, words):
    response = post(client, token, "/api/ads/campaigns", body)
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in {detail["field"] for detail in error["details"]}
    assert words in error["message"]
    assert not Campaign.objects.exists()


def test_patch_refuses_null_for_a_field_that_needs_a_value(client, token, user):
    campaign = make_campaign(user, name="Keep me")
    response = patch(client, token, f"/api/ads/campaigns/{campaign.id}", {"name": None})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "name"
    campaign.refresh_from_db()
    assert campaign.name == "Keep me"


def test_a_duplicate_platform_id_is_a_422(client, token, user):
    make_campaign(user, platform="meta", external_id="m-7")
    response = post(client, token, "/api/ads/campaigns", {"name": "Again", "external_id": "m-7"})
    assert response.status_code == 422 and "platform id" in error_of(response)["message"]


def test_campaigns_are_paged_newest_first_with_counts(client, token, user, other_user):
    now = timezone.now()
    mine = []
    for minutes in range(5):
        campaign = make_campaign(user)
        Campaign.objects.filter(id=campaign.id).update(created_at=now - timedelta(minutes=minutes))
        mine.append(str(campaign.id))
    make_ad(Campaign.objects.get(id=mine[0]), is_winner=True, fatigue=Ad.Fatigue.FATIGUED)
    make_ad(Campaign.objects.get(id=mine[0]))
    make_campaign(other_user)
    seen, cursor, first = [], None, None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = get(client, token, "/api/ads/campaigns", params).json()
        first = first or page["items"][0]
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == mine
    assert (first["ad_count"], first["winner_count"], first["fatigued_count"]) == (2, 1, 1)
    bad = get(client, token, "/api/ads/campaigns", {"cursor": "garbage"})
    assert bad.status_code == 422 and error_of(bad)["details"][0]["field"] == "cursor"


# Ads


def test_an_ad_runs_one_of_your_videos_and_says_which(client, token, user, persona):
    campaign = make_campaign(user, currency="GBP")
    job = narration(user, persona, duration_seconds=42.0)
    response = post(client, token, "/api/ads/ads", {
        "campaign_id": str(campaign.id), "name": "Hook A", "daily_budget": "25",
        "narration_job_id": str(job.id),
    })  # fmt: skip
    assert response.status_code == 201, response.content
    ad = response.json()
    assert (
        ad["narration_job_id"] == str(job.id) and ad["narration_job_url"] == f"/api/jobs/{job.id}"
    )
    assert ad["persona_name"] == persona.name and ad["persona_id"] == persona.id
    assert ad["preset"] == "1080p (1920×1080)" and ad["video_duration_seconds"] == 42.0
    assert ad["daily_budget"] == "25.00" and ad["currency"] == "GBP"
    assert ad["fatigue"] == "unchecked" and ad["is_winner"] is False
    assert ad["utm_content"].startswith("sc-") and ad["campaign_name"] == campaign.name

    transcode = MediaJob.objects.create(
        owner=user, title="t.mp4", operation="transcode", source_job=job,
        parameters={"codec": "vp9", "resolution": "1280x720", "aspect": "1:1"},
    )  # fmt: skip
    changed = patch(client, token, f"/api/ads/ads/{ad['id']}", {"media_job_id": str(transcode.id)})
    assert changed.status_code == 200, changed.content
    after = changed.json()
    assert after["media_job_id"] == str(transcode.id) and after["preset"] == "VP9 1280x720 1:1"
    assert after["media_job_url"] == f"/api/media/{transcode.id}"
    assert after["narration_job_id"] == str(job.id) and after["name"] == "Hook A"


def test_an_ad_may_not_name_someone_elses_campaign_or_video(client, token, user, other_user,
                                                             persona):  # fmt: skip
    mine = make_campaign(user)
    theirs = make_campaign(other_user)
    their_job = narration(other_user, persona)
    their_media = MediaJob.objects.create(owner=other_user, title="x", operation="transcode")
    cases = [
        ({"campaign_id": str(theirs.id)}, "campaign_id"),
        ({"campaign_id": str(mine.id), "narration_job_id": str(their_job.id)}, "narration_job_id"),
        ({"campaign_id": str(mine.id), "media_job_id": str(their_media.id)}, "media_job_id"),
    ]
    for body, field in cases:
        response = post(client, token, "/api/ads/ads", {"name": "Sneaky", **body})
        assert response.status_code == 422, body
        error = error_of(response)
        assert error["details"][0]["field"] == field and "among yours" in error["message"]
    assert not Ad.objects.exists()
    ad = make_ad(mine)
    response = patch(
        client, token, f"/api/ads/ads/{ad.id}", {"narration_job_id": str(their_job.id)}
    )
    assert response.status_code == 422


def test_ad_validation_errors_come_in_the_envelope(client, token, user):
    campaign = make_campaign(user)
    make_ad(campaign, utm_content="taken")
    for body, field in [
        ({"utm_content": "has space"}, "utm_content"),
        ({"status": "running"}, "status"),
        ({"daily_budget": "abc"}, "daily_budget"),
        ({"utm_content": "taken"}, "request"),
    ]:
        response = post(client, token, "/api/ads/ads",
                        {"campaign_id": str(campaign.id), "name": "A", **body})  # fmt: skip
        assert response.status_code == 422, body
        error = error_of(response)
        assert error["code"] == "validation_error" and error["details"][0]["field"] == field


def test_ads_are_filtered_by_campaign_status_winner_and_fatigue(client, token, user, other_user):
    first, second = make_campaign(user), make_campaign(user)
    winner = make_ad(first, is_winner=True, winner_metric="ctr", winner_probability=0.97)
    tired = make_ad(first, fatigue=Ad.Fatigue.FATIGUED, fatigue_reason="CTR down 40 %")
    paused = make_ad(second, status="paused")
    make_ad(make_campaign(other_user), is_winner=True)

    def ids(**params) -> set[str]:
        return {item["id"] for item in get(client, token, "/api/ads/ads", params).json()["items"]}

    assert ids() == {str(winner.id), str(tired.id), str(paused.id)}
    assert ids(campaign_id=str(second.id)) == {str(paused.id)}
    assert ids(status="paused") == {str(paused.id)}
    assert ids(winner="true") == {str(winner.id)}
    assert ids(winner="false") == {str(tired.id), str(paused.id)}
    assert ids(fatigue="fatigued") == {str(tired.id)}
    shown = get(client, token, f"/api/ads/ads/{tired.id}").json()
    assert shown["fatigue_reason"] == "CTR down 40 %"
    assert get(client, token, "/api/ads/ads", {"fatigue": "tired"}).status_code == 422


# Owner scoping


def test_another_users_ids_are_404_on_every_endpoint(client, other_token, user, persona):
    campaign = make_campaign(user)
    ad = make_ad(campaign, narration_job=narration(user, persona))
    suggestion = BudgetSuggestion.objects.create(
        campaign=campaign, total_budget=Decimal("100"), currency="USD", method="m",
        metric="ctr", window_days=14, summary="s",
    )  # fmt: skip
    calls = [
        ("get", f"/api/ads/campaigns/{campaign.id}", None),
        ("patch", f"/api/ads/campaigns/{campaign.id}", {"name": "Mine now"}),
        ("get", f"/api/ads/campaigns/{campaign.id}/budget-suggestion", None),
        ("get", f"/api/ads/ads/{ad.id}", None),
        ("patch", f"/api/ads/ads/{ad.id}", {"daily_budget": "0"}),
        ("get", f"/api/ads/ads/{ad.id}/metrics", None),
        ("get", f"/api/ads/ads/{ad.id}/fatigue", None),
        ("post", f"/api/ads/ads/{ad.id}/fatigue/check", None),
        ("post", f"/api/ads/ads/{ad.id}/refresh", {"persona_id": persona.id}),
        ("post", f"/api/ads/budget-suggestions/{suggestion.id}/accept", None),
        ("post", f"/api/ads/budget-suggestions/{suggestion.id}/reject", {"note": "no"}),
    ]
    send = {"get": lambda path, body: get(client, other_token, path),
            "post": lambda path, body: post(client, other_token, path, body),
            "patch": lambda path, body: patch(client, other_token, path, body)}  # fmt: skip
    for method, path, body in calls:
        response = send[method](path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert error_of(response)["code"] == "not_found"
        assert "among yours" in error_of(response)["message"]
    for path in ("/api/ads/campaigns", "/api/ads/ads"):
        assert get(client, other_token, path).json()["items"] == []
    campaign.refresh_from_db()
    ad.refresh_from_db()
    suggestion.refresh_from_db()
    assert campaign.name != "Mine now" and ad.daily_budget == Decimal("20.00")
    assert suggestion.status == "pending" and Job.objects.count() == 1


def test_a_missing_id_is_the_same_404(client, token):
    missing = "00000000-0000-4000-8000-000000000000"
    for path in (f"/api/ads/campaigns/{missing}", f"/api/ads/ads/{missing}"):
        response = get(client, token, path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"


# Snapshots


def test_snapshot_rows_are_stored_or_refused_one_by_one_and_resent_safely(client, token, user,
                                                                          other_user):  # fmt: skip
    ad = make_ad(make_campaign(user), external_id="meta-55")
    theirs = make_ad(make_campaign(other_user))
    day = yesterday().isoformat()
    rows = [
        {"ad_id": str(ad.id), "date": day, "impressions": 1000, "clicks": "25", "spend": "12.5"},
        {"ad_id": str(theirs.id), "date": day, "impressions": 10, "clicks": 1, "spend": 1},
        {"ad_external_id": "meta-55", "date": day, "hour": 3, "impressions": 5, "clicks": 9,
         "spend": "0"},
        {"ad_external_id": "meta-55", "date": "2025-02-30", "impressions": 5, "clicks": 0,
         "spend": 0},
    ]  # fmt: skip
    response = post(client, token, "/api/ads/snapshots", {"rows": rows})
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["received"], report["created"], report["updated"]) == (4, 1, 0)
    assert report["accepted"] == 1
    refused = {error["row"]: error for error in report["errors"]}
    assert set(refused) == {2, 3, 4}
    assert refused[2]["ad"] == str(theirs.id) and "Unknown ad" in refused[2]["reason"]
    assert "exceed impressions" in refused[3]["reason"] and refused[3]["ad"] == "meta-55"
    assert "date" in refused[4]["reason"]
    assert not AdSnapshot.objects.filter(ad=theirs).exists()

    again = post(client, token, "/api/ads/snapshots", {"rows": rows[:1]}).json()
    assert (again["created"], again["updated"], again["errors"]) == (0, 1, [])
    stored = AdSnapshot.objects.get(ad=ad)
    assert (stored.impressions, stored.clicks, stored.spend) == (1000, 25, Decimal("12.5"))


@pytest.mark.parametrize(
    "values",
    [
        {"impressions": "NaN"}, {"impressions": 10**30}, {"spend": 1e300}, {"spend": "-1"},
        {"clicks": 2.5}, {"hour": 24}, {"date": 20250101}, {"ad_id": 12}, {"reach": "lots"},
        {"completion_rate": 7}, {"date": "2025-01-01T10:30:00"}, {"ad_id": "x" * 5000},
    ],
)  # fmt: skip
def test_odd_values_refuse_their_row_never_the_request(client, token, user, values):
    ad = make_ad(make_campaign(user))
    row = {"ad_id": str(ad.id), "date": yesterday().isoformat(), "impressions": 100,
           "clicks": 1, "spend": "1.00", **values}  # fmt: skip
    response = client.post(
        "/api/ads/snapshots", json.dumps({"rows": [row]}).replace('"NaN"', "NaN"),
        content_type="application/json", **auth(token),
    )  # fmt: skip
    assert response.status_code == 200, response.content
    report = response.json()
    assert report["accepted"] == 0 and report["errors"][0]["row"] == 1, report
    assert report["errors"][0]["reason"]


def test_more_rows_than_the_cap_is_a_413(client, token, user, settings):
    settings.ADS = {**settings.ADS, "INGEST_MAX_ROWS": 2}
    ad = make_ad(make_campaign(user))
    row = {"ad_id": str(ad.id), "date": yesterday().isoformat(), "impressions": 1, "clicks": 0,
           "spend": 0}  # fmt: skip
    response = post(client, token, "/api/ads/snapshots", {"rows": [row] * 3})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "too_many_rows" and "at most 2" in error["message"]
    assert "CSV" in error["message"] and not AdSnapshot.objects.exists()
    assert post(client, token, "/api/ads/snapshots", {"rows": [row] * 2}).status_code == 200


def test_a_csv_file_is_ingested_with_the_same_report(client, token, user):
    ad = make_ad(make_campaign(user), external_id="123")
    day = yesterday().isoformat()
    text = (
        "Ad ID,Day,Impressions,Link clicks,Amount spent (USD)\n"
        f"123,{day},2000,40,9.99\n"
        f"999,{day},10,1,1\n"
    )
    upload = SimpleUploadedFile("export.csv", text.encode(), content_type="text/csv")
    response = client.post("/api/ads/snapshots/csv", {"file": upload}, **auth(token))
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["received"], report["created"], report["accepted"]) == (2, 1, 1)
    assert [(error["row"], error["ad"]) for error in report["errors"]] == [(3, "999")]
    assert AdSnapshot.objects.get(ad=ad).spend == Decimal("9.99")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 a workbook", "spreadsheet"),
        (b"name,colour\nx,y\n", "no column"),
    ],
)
def test_a_csv_file_that_cannot_be_used_is_a_422_saying_why(client, token, content, words):
    upload = SimpleUploadedFile("export.csv", content, content_type="text/csv")
    response = client.post("/api/ads/snapshots/csv", {"file": upload}, **auth(token))
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "invalid_file" and words in error["message"]
    assert error["details"][0]["field"] == "file"


# Metrics and fatigue


def test_metrics_are_a_daily_series_with_rates(client, token, user):
    ad = make_ad(make_campaign(user, currency="EUR"))
    day = yesterday()
    AdSnapshot.objects.create(ad=ad, day=day - timedelta(days=1), impressions=1000, reach=400,
                              clicks=50, spend=Decimal("12.3456"), video_views=300,
                              conversions=5, revenue=Decimal("100"))  # fmt: skip
    for hour, clicks in ((9, 10), (10, 30)):
        AdSnapshot.objects.create(ad=ad, day=day, hour=hour, impressions=1000, clicks=clicks,
                                  spend=Decimal("1.5"))  # fmt: skip
    AdSnapshot.objects.create(ad=ad, day=day - timedelta(days=40), impressions=1, clicks=0)
    body = get(client, token, f"/api/ads/ads/{ad.id}/metrics", {"days": 30}).json()
    assert body["currency"] == "EUR" and body["days"] == 30
    first, second = body["series"]
    assert first == {
        "day": (day - timedelta(days=1)).isoformat(), "impressions": 1000, "reach": 400,
        "clicks": 50, "spend": "12.3456", "video_views": 300, "conversions": 5,
        "revenue": "100.0000", "ctr": 0.05, "conversion_rate": 0.1, "frequency": 2.5,
    }  # fmt: skip
    assert second["day"] == day.isoformat() and second["impressions"] == 2000
    assert second["clicks"] == 40 and second["spend"] == "3.0000"
    assert second["ctr"] == 0.02 and second["reach"] is None and second["frequency"] is None
    assert len(get(client, token, f"/api/ads/ads/{ad.id}/metrics").json()["series"]) == 3
    too_long = get(client, token, f"/api/ads/ads/{ad.id}/metrics", {"days": 5000})
    assert too_long.status_code == 422


def test_a_fatigue_check_finds_a_decaying_ctr(client, token, user):
    ad = make_ad(make_campaign(user))
    write_history(ad, days=30, impressions=20_000, ctr=lambda i: 0.03 if i < 14 else
                  0.03 * (1 - 0.04 * (i - 13)), conversion_rate=0.0, seed=3)  # fmt: skip
    earlier = FatigueFinding.objects.create(
        ad=ad, metric="conversion_rate", severity="warning", is_open=False,
        first_detected_at=timezone.now() - timedelta(days=20),
        last_detected_at=timezone.now() - timedelta(days=18),
        resolved_at=timezone.now() - timedelta(days=15), alarm_day=yesterday() - timedelta(20),
        baseline_rate=0.05, recent_rate=0.03, drop=0.4, slope_per_day=-0.02, cusum=6.0,
        days_observed=12, recommendation="Try a new hook.",
    )  # fmt: skip
    checked = post(client, token, f"/api/ads/ads/{ad.id}/fatigue/check")
    assert checked.status_code == 200, checked.content
    body = checked.json()
    assert body["fatigue"] == "fatigued" and body["fatigue_reason"]
    assert body["fatigue_checked_at"] and body["summary"]["checked"] == 1
    assert [finding["metric"] for finding in body["findings"]] == ["ctr"]
    finding = body["findings"][0]
    assert finding["is_open"] and finding["recommendation"]
    evidence = finding["evidence"]
    assert evidence["baseline_rate"] > evidence["recent_rate"] and evidence["drop"] > 0.15
    every = get(client, token, f"/api/ads/ads/{ad.id}/fatigue").json()
    assert {item["id"] for item in every["findings"]} == {finding["id"], earlier.id}
    assert get(client, token, f"/api/ads/ads/{ad.id}").json()["fatigue"] == "fatigued"


# Refresh


def test_refresh_narrates_the_ads_deck_with_another_persona(client, token, user, other_user,
                                                            persona, deck_path):  # fmt: skip
    source = submit_deck(deck_path([("One", "Buy the thing.")]), user, persona)
    ad = make_ad(make_campaign(user), narration_job=source, persona=persona)
    other_voice = Persona.objects.create(name="Amy", tts_engine="piper", voice="en_US-amy-medium",
                                         status="active", owner=user)  # fmt: skip
    response = post(client, token, f"/api/ads/ads/{ad.id}/refresh",
                    {"persona_id": other_voice.id, "resolution": "1280x720"})  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(id=body["job_id"])
    assert body["job_url"] == f"/api/jobs/{job.id}" and body["ad_id"] == str(ad.id)
    assert (job.owner, job.persona, job.resolution) == (user, other_voice, "1280x720")
    assert get(client, token, body["job_url"]).status_code == 200

    private = Persona.objects.create(name="Mal", tts_engine="piper", voice="en_US-joe-medium",
                                     status="active", owner=other_user)  # fmt: skip
    refused = post(client, token, f"/api/ads/ads/{ad.id}/refresh", {"persona_id": private.id})
    assert refused.status_code == 422 and error_of(refused)["details"][0]["field"] == "persona_id"
    draft = Persona.objects.create(name="Draft", tts_engine="piper", voice="en_US-joe-medium",
                                   status="draft", owner=user)  # fmt: skip
    refused = post(client, token, f"/api/ads/ads/{ad.id}/refresh", {"persona_id": draft.id})
    assert refused.status_code == 422 and "draft" in error_of(refused)["message"]


def test_refresh_of_an_ad_without_a_deck_says_why(client, token, user, persona):
    ad = make_ad(make_campaign(user))
    response = post(client, token, f"/api/ads/ads/{ad.id}/refresh", {"persona_id": persona.id})
    assert response.status_code == 422 and "no deck" in error_of(response)["message"]


# Winners


@pytest.fixture
def winning_ad(user, persona) -> Ad:
    campaign = make_campaign(user)
    job = narration(user, persona, notes="Cut your cloud bill in half with autoscaling servers.")
    best = make_ad(campaign, name="Cloud savings", narration_job=job, persona=persona)
    others = [make_ad(campaign) for _ in range(2)]
    write_history(best, days=20, impressions=10_000, ctr=0.04, conversion_rate=0.0)
    for seed, ad in enumerate(others, start=1):
        write_history(ad, days=20, impressions=10_000, ctr=0.01, conversion_rate=0.0, seed=seed)
    winners.winners_pass()
    best.refresh_from_db()
    assert best.is_winner
    return best


def test_winners_are_listed_and_searched_by_text_or_job(client, token, other_token, user,
                                                        persona, winning_ad):  # fmt: skip
    listed = get(client, token, "/api/ads/winners").json()
    assert [item["id"] for item in listed] == [str(winning_ad.id)]
    assert listed[0]["winner_probability"] >= 0.95 and listed[0]["winner_metric"] == "ctr"
    response = post(client, token, "/api/ads/winners/search",
                    {"text": "autoscaling servers lower the cloud bill", "limit": 5})  # fmt: skip
    assert response.status_code == 200, response.content
    matches = response.json()
    assert [match["ad_id"] for match in matches] == [str(winning_ad.id)]
    assert matches[0]["similarity"] > 0.3 and "cloud bill" in matches[0]["snippet"]
    assert matches[0]["persona"] == persona.name and matches[0]["results"]["metric"] == "ctr"

    draft = narration(user, persona, notes="Autoscaling servers make your cloud bill smaller.")
    by_job = post(client, token, "/api/ads/winners/search", {"job_id": str(draft.id)}).json()
    assert [match["ad_id"] for match in by_job] == [str(winning_ad.id)]

    assert get(client, other_token, "/api/ads/winners").json() == []
    theirs = post(client, other_token, "/api/ads/winners/search", {"text": "cloud bill"})
    assert theirs.status_code == 200 and theirs.json() == []
    not_theirs = post(client, other_token, "/api/ads/winners/search", {"job_id": str(draft.id)})
    assert not_theirs.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": "a", "job_id": "00000000-0000-4000-8000-000000000000"},
        {"text": "a", "limit": 51},
    ],
)
def test_winner_search_needs_exactly_one_of_text_and_job(client, token, body):
    response = post(client, token, "/api/ads/winners/search", body)
    assert response.status_code == 422 and error_of(response)["code"] == "validation_error"


# Budget suggestions


def _suggestion(campaign: Campaign, ads: list[Ad], **fields) -> BudgetSuggestion:
    suggestion = BudgetSuggestion.objects.create(
        campaign=campaign, total_budget=Decimal("100.00"), currency="USD",
        method="Thompson sampling", metric="conversion_rate", window_days=14,
        summary="Move budget to the ad that converts best.", **fields,
    )  # fmt: skip
    for ad, amount, share in zip(ads, ("70.00", "30.00"), (0.7, 0.3), strict=True):
        BudgetSuggestionLine.objects.create(
            suggestion=suggestion, ad=ad, current_budget=Decimal("50.00"),
            suggested_budget=Decimal(amount), share=share, probability_best=share,
            cost_per_result=12.345678, roas=2.5, reason="Converts best.",
        )  # fmt: skip
    return suggestion


def test_a_budget_suggestion_is_shown_then_accepted_once(client, token, user):
    campaign = make_campaign(user)
    missing = get(client, token, f"/api/ads/campaigns/{campaign.id}/budget-suggestion")
    assert missing.status_code == 404 and "no budget suggestion yet" in error_of(missing)["message"]
    ads = [make_ad(campaign, daily_budget=Decimal("50")) for _ in range(2)]
    suggestion = _suggestion(campaign, ads)
    shown = get(client, token, f"/api/ads/campaigns/{campaign.id}/budget-suggestion").json()
    assert shown["id"] == str(suggestion.id) and shown["status"] == "pending"
    assert shown["total_budget"] == "100.00" and shown["decided_by"] is None
    line = shown["lines"][0]
    assert line["suggested_budget"] == "70.00" and line["current_budget"] == "50.00"
    assert line["cost_per_result"] == "12.3457" and line["ad_name"] == ads[0].name

    path = f"/api/ads/budget-suggestions/{suggestion.id}"
    accepted = post(client, token, f"{path}/accept", {"note": "Looks right"})
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["status"] == "accepted" and body["decided_by"] == user.username
    assert body["decision_note"] == "Looks right" and body["decided_at"]
    assert Ad.objects.get(id=ads[0].id).daily_budget == Decimal("70.00")
    for action in ("accept", "reject"):
        again = post(client, token, f"{path}/{action}")
        assert again.status_code == 409 and error_of(again)["code"] == "not_pending"


def test_a_budget_suggestion_is_rejected_without_a_body(client, token, user):
    campaign = make_campaign(user)
    ads = [make_ad(campaign, daily_budget=Decimal("50")) for _ in range(2)]
    suggestion = _suggestion(campaign, ads)
    path = f"/api/ads/budget-suggestions/{suggestion.id}/reject"
    response = client.post(path, "", content_type="application/json", **auth(token))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    assert Ad.objects.get(id=ads[0].id).daily_budget == Decimal("50.00")


# OpenAPI


def test_the_openapi_document_describes_the_ads_endpoints(client):
    document = client.get("/api/openapi.json").json()
    paths = document["paths"]
    expected = {
        "/api/ads/campaigns", "/api/ads/campaigns/{campaign_id}", "/api/ads/ads",
        "/api/ads/ads/{ad_id}", "/api/ads/ads/{ad_id}/metrics", "/api/ads/ads/{ad_id}/fatigue",
        "/api/ads/ads/{ad_id}/fatigue/check", "/api/ads/ads/{ad_id}/refresh",
        "/api/ads/snapshots", "/api/ads/snapshots/csv", "/api/ads/winners",
        "/api/ads/winners/search", "/api/ads/campaigns/{campaign_id}/budget-suggestion",
        "/api/ads/budget-suggestions/{suggestion_id}/accept",
        "/api/ads/budget-suggestions/{suggestion_id}/reject",
    }  # fmt: skip
    assert expected <= set(paths)
    assert "even when some rows were" in paths["/api/ads/snapshots"]["post"]["description"]
    assert "413" in paths["/api/ads/snapshots"]["post"]["responses"]
    schemas = document["components"]["schemas"]
    budget = schemas["CampaignOut"]["properties"]["daily_budget"]
    assert budget["type"] == "string" and "Decimal string" in budget["description"]
    assert schemas["DayOut"]["properties"]["spend"]["type"] == "string"
    assert all(op["tags"] == ["ads"] for path in expected for op in paths[path].values())
