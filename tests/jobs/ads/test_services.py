"""Campaigns and ads: validation, links to the videos they run, the audit trail, reads."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from jobs.ads import selectors, services
from jobs.ads.models import AdsAuditEntry, AdSnapshot, CrmConversion
from jobs.models import Job
from tests.conftest import submit_deck
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

pytestmark = pytest.mark.django_db


def test_campaign_refuses_bad_values_with_the_reason(user):
    with pytest.raises(ValidationError, match="3-letter ISO 4217"):
        services.campaign_create(owner=user, name="Spring", currency="dollars")
    with pytest.raises(ValidationError, match="must not be negative"):
        services.campaign_create(owner=user, name="Spring", daily_budget=Decimal("-1"))
    with pytest.raises(ValidationError, match="before the start date"):
        services.campaign_create(
            owner=user, name="Spring", starts_on=date(2026, 5, 2), ends_on=date(2026, 5, 1)
        )
    with pytest.raises(ValidationError, match="Unknown field"):
        services.campaign_create(owner=user, name="Spring", owner_id=3)
    campaign = services.campaign_create(owner=user, name="Spring", currency="eur")
    assert campaign.currency == "EUR"


def test_platform_ids_are_unique_per_owner_but_not_across_owners(user, other_user):
    services.campaign_create(owner=user, name="A", platform="meta", external_id="123")
    with pytest.raises(ValidationError, match="already have a campaign"):
        services.campaign_create(owner=user, name="B", platform="meta", external_id="123")
    assert services.campaign_create(owner=other_user, name="C", platform="meta", external_id="123")


def test_ad_gets_a_utm_value_and_refuses_a_taken_one(user):
    campaign = make_campaign(user)
    first = services.ad_create(campaign=campaign, name="One")
    assert first.utm_content.startswith("sc-")
    services.ad_create(campaign=campaign, name="Two", utm_content="spring-2")
    with pytest.raises(ValidationError, match="utm_content"):
        services.ad_create(campaign=campaign, name="Three", utm_content="spring-2")
    with pytest.raises(ValidationError, match="letters, digits"):
        services.ad_create(campaign=campaign, name="Four", utm_content="has space")


def test_ad_linked_to_a_narration_takes_its_persona_format_and_length(
    user, persona, deck_path
):
    job = submit_deck(deck_path([("Hello", "Hello there.")]), user, persona, resolution="1280x720")
    Job.objects.filter(id=job.id).update(duration_seconds=12.5)
    job.refresh_from_db()
    ad = services.ad_create(campaign=make_campaign(user), name="Video ad", narration_job=job)
    assert ad.persona == persona
    assert ad.preset.startswith("720p")
    assert ad.video_duration_seconds == 12.5


def test_ad_cannot_run_another_owners_video(user, other_user, persona, deck_path):
    job = submit_deck(deck_path([("Hello", "Hello there.")]), other_user, persona)
    with pytest.raises(ValidationError, match="among the campaign owner's"):
        services.ad_create(campaign=make_campaign(user), name="Stolen", narration_job=job)


def test_budget_and_status_changes_are_audited(user):
    campaign = make_campaign(user, daily_budget=Decimal("100.00"))
    ad = make_ad(campaign, daily_budget=Decimal("20.00"))
    services.ad_update(ad=ad, actor=user, daily_budget=Decimal("25.00"), name="Renamed")
    services.campaign_update(campaign=campaign, actor=user, status="paused")
    entries = {entry.action: entry.details for entry in AdsAuditEntry.objects.all()}
    assert entries["ad.changed"]["daily_budget"] == ["20.00", "25.00"]
    assert "name" not in entries["ad.changed"]
    assert entries["campaign.changed"] == {"status": ["active", "paused"]}


def test_refresh_creative_narrates_the_same_deck_with_another_persona(
    user, persona, deck_path
):
    from jobs.personas.models import Persona

    job = submit_deck(deck_path([("One", "First slide."), ("Two", "Second slide.")]), user, persona)
    other = Persona.objects.create(name="Amy", owner=user, status="active")
    ad = services.ad_create(campaign=make_campaign(user), name="Tired ad", narration_job=job)
    fresh = services.ad_refresh_creative(ad=ad, actor=user, persona=other)
    assert fresh.id != job.id
    assert fresh.persona == other
    assert fresh.owner == user
    assert fresh.deck.read()[:2] == b"PK"
    assert AdsAuditEntry.objects.filter(action="ad.creative_refresh").count() == 1


def test_refresh_creative_without_a_deck_says_what_to_do(user, persona):
    ad = make_ad(make_campaign(user))
    with pytest.raises(ValidationError, match="upload a new creative"):
        services.ad_refresh_creative(ad=ad, actor=user, persona=persona)


def test_daily_series_sums_hours_and_takes_the_larger_conversion_count(user):
    ad = make_ad(make_campaign(user))
    day = date.today() - timedelta(days=2)
    for hour, clicks in ((9, 5), (10, 7)):
        AdSnapshot.objects.create(
            ad=ad, day=day, hour=hour, impressions=100, clicks=clicks, spend=Decimal("1.5"),
            conversions=1,
        )  # fmt: skip
    for number in range(3):
        CrmConversion.objects.create(
            source="hubspot", object_type="contact", object_id=str(number), kind="lead", ad=ad,
            occurred_at=f"{day.isoformat()}T12:00:00Z", last_event_at=f"{day}T12:00:00Z",
        )  # fmt: skip
    (series,) = selectors.ad_daily_series(ad=ad)
    assert (series.impressions, series.clicks, series.spend) == (200, 12, 3.0)
    assert series.conversions == 3  # CRM saw 3 where the platform reported 2
    assert series.ctr == pytest.approx(0.06)


def test_campaign_totals_rank_ads_by_spend_and_stay_within_the_campaign(user, other_user):
    campaign = make_campaign(user)
    big, small = make_ad(campaign, name="Big"), make_ad(campaign, name="Small")
    write_history(big, days=10, impressions=20000)
    write_history(small, days=10, impressions=2000)
    write_history(make_ad(make_campaign(other_user)), days=10)
    totals = selectors.campaign_ad_totals(campaign=campaign)
    assert [row.name for row in totals] == ["Big", "Small"]
    assert totals[0].spend == pytest.approx(10 * 20000 / 1000 * 8.0)
    assert selectors.ad_find_for(user=other_user, ad_id=big.id) is None
