"""The ads domain in the admin: every page opens with data, changes go through the services
(and so into the audit trail), uploads report their refused rows, and the dashboard shows the
analyses' last runs."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from jobs.ads import budgets, winners
from jobs.ads.models import (
    Ad,
    AdsAuditEntry,
    AdSnapshot,
    AnalysisRun,
    BudgetSuggestion,
    CrmConversion,
    CrmEventItem,
    FatigueFinding,
)
from jobs.integrations.models import InboundEvent
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@example.com", "ops-pass-1")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def campaign(user):
    return make_campaign(user, name="Spring launch", currency="EUR")


@pytest.fixture
def won(campaign):
    """Three ads over twenty days, one of which converts far better than the others."""
    winner = make_ad(campaign, name="Spring sale webinar invitation")
    others = [make_ad(campaign, name=f"Plain banner {n}") for n in (1, 2)]
    write_history(winner, days=20, ctr=0.03, conversion_rate=0.12, seed=1)
    for seed, ad in enumerate(others, start=2):
        write_history(ad, days=20, ctr=0.02, conversion_rate=0.03, seed=seed)
    return winner, others


def _finding(ad: Ad) -> FatigueFinding:
    now = timezone.now()
    return FatigueFinding.objects.create(
        ad=ad, metric="ctr", severity="high", first_detected_at=now, last_detected_at=now,
        alarm_day=date.today() - timedelta(days=5), baseline_rate=0.02, recent_rate=0.012,
        drop=0.4, slope_per_day=-0.03, cusum=7.5, days_observed=24, frequency_baseline=1.4,
        frequency_recent=3.1, recommendation="Refresh the creative: people have seen it.",
    )  # fmt: skip


def _crm_item(ad_ref: str, *, outcome: str = "unmatched", ad: Ad | None = None) -> CrmEventItem:
    delivery = InboundEvent.objects.create(source="hubspot", event_id=f"d-{ad_ref}", body="[]")
    now = timezone.now()
    conversion = CrmConversion.objects.create(
        source="hubspot", object_type="contact", object_id=f"c-{ad_ref}", kind="lead", ad=ad,
        occurred_at=now, last_event_at=now, attribution={"utm_content": ad_ref},
    )  # fmt: skip
    return CrmEventItem.objects.create(
        inbound_event=delivery, source="hubspot", event_id=f"e-{ad_ref}",
        subscription_type="contact.creation", outcome=outcome, conversion=conversion,
        detail=f"No ad has utm_content {ad_ref}.", occurred_at=now,
    )  # fmt: skip


def _page(client, name: str, *args, query: str = "") -> str:
    response = client.get(reverse(f"admin:jobs_{name}", args=args) + query)
    assert response.status_code == 200, (name, response.status_code)
    return response.content.decode()


def test_every_ads_list_and_page_opens_with_data(staff_client, user, campaign, won):
    winner, _ = won
    _finding(winner)
    winners.winners_pass()
    suggestion = budgets.budget_suggest(campaign=campaign)
    item = _crm_item("nobody-knows")
    snapshot = AdSnapshot.objects.filter(ad=winner).first()
    entry = AdsAuditEntry.objects.create(
        actor=user, action="campaign.changed", campaign=campaign, details={"status": ["a", "b"]}
    )
    pages = {
        "campaign": campaign.id, "ad": winner.id, "adsnapshot": snapshot.id,
        "crmconversion": item.conversion_id, "crmeventitem": item.id,
        "fatiguefinding": winner.fatigue_findings.get().id,
        "analysisrun": AnalysisRun.objects.get().id, "budgetsuggestion": suggestion.id,
        "adsauditentry": entry.id, "winnerentry": winner.id,
    }  # fmt: skip
    for model, pk in pages.items():
        listing = _page(staff_client, f"{model}_changelist")
        assert 'id="result_list"' in listing, model  # the table of rows, drawn only with rows
        _page(staff_client, f"{model}_change", pk)

    campaigns = _page(staff_client, "campaign_changelist")
    assert "Spring launch" in campaigns and "EUR" in campaigns and ">3<" in campaigns
    ad_page = _page(staff_client, "ad_change", winner.id)
    assert "Refresh the creative" in ad_page and "Spring launch" in ad_page
    winners_list = _page(staff_client, "ad_changelist", query="?is_winner__exact=1")
    assert "Spring sale webinar" in winners_list and "Plain banner" not in winners_list
    findings = _page(staff_client, "fatiguefinding_changelist", query="?is_open__exact=1")
    assert "2.00 % → 1.20 % (−40 %)" in findings and "frequency 1.4 → 3.1" in findings
    events = _page(staff_client, "crmeventitem_changelist", query="?outcome__exact=unmatched")
    assert "No ad has utm_content nobody-knows." in events
    assert reverse("admin:jobs_inboundevent_change", args=[item.inbound_event_id]) in events
    unmatched = _page(staff_client, "crmconversion_changelist", query="?matched=no")
    assert "c-nobody-knows" in unmatched
    assert "c-nobody-knows" not in _page(staff_client, "crmconversion_changelist",
                                         query="?matched=yes")  # fmt: skip
    suggestion_page = _page(staff_client, "budgetsuggestion_change", suggestion.id)
    assert "Plain banner 1" in suggestion_page  # the lines, inline
    day = snapshot.day
    one_day = f"?day__year={day.year}&day__month={day.month}&day__day={day.day}"
    by_day = _page(staff_client, "adsnapshot_changelist", query=one_day)
    assert "3 ad snapshots" in by_day


def test_people_who_are_not_staff_cannot_open_the_ads_admin(client, user, campaign):
    client.force_login(user)
    for url in (
        reverse("admin:jobs_campaign_changelist"),
        reverse("admin:jobs_adsnapshot_upload"),
        reverse("admin:jobs_winnerentry_search"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_budget_and_status_changes_in_the_admin_reach_the_audit_trail(
    staff_client, staff, campaign
):
    ad = make_ad(campaign, name="Banner", utm_content="banner-1")
    url = reverse("admin:jobs_campaign_change", args=[campaign.id])
    form = {
        "name": "Spring launch", "platform": "meta", "external_id": "", "status": "paused",
        "daily_budget": "150.00", "currency": "EUR", "starts_on": "", "ends_on": "",
        "utm_campaign": "", "ads-TOTAL_FORMS": "1", "ads-INITIAL_FORMS": "1",
        "ads-MIN_NUM_FORMS": "0", "ads-MAX_NUM_FORMS": "1000", "ads-0-id": str(ad.id),
        "ads-0-campaign": str(campaign.id),
    }  # fmt: skip
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign.refresh_from_db()
    assert (campaign.status, campaign.daily_budget) == ("paused", Decimal("150.00"))
    entry = AdsAuditEntry.objects.get(action="campaign.changed")
    assert entry.actor == staff
    assert entry.details == {"status": ["active", "paused"], "daily_budget": ["100.00", "150.00"]}

    refused = staff_client.post(url, {**form, "currency": "E1R"}, follow=True).content.decode()
    assert "3-letter ISO 4217 code" in refused

    ad_url = reverse("admin:jobs_ad_change", args=[ad.id])
    staff_client.post(ad_url, {
        "name": "Banner", "external_id": "", "status": "active", "daily_budget": "35",
        "starts_on": "", "ends_on": "", "utm_content": "banner-1", "narration_job": "",
        "media_job": "", "fatigue_findings-TOTAL_FORMS": "0",
        "fatigue_findings-INITIAL_FORMS": "0", "fatigue_findings-MIN_NUM_FORMS": "0",
        "fatigue_findings-MAX_NUM_FORMS": "1000",
    })  # fmt: skip
    ad.refresh_from_db()
    assert ad.daily_budget == Decimal("35.00")
    change = AdsAuditEntry.objects.get(action="ad.changed")
    assert change.actor == staff and change.details["daily_budget"] == ["20.00", "35"]


def test_operators_add_a_campaign_and_an_ad_for_a_user(staff_client, staff, user):
    staff_client.post(reverse("admin:jobs_campaign_add"), {
        "owner": user.id, "name": "Autumn", "platform": "tiktok", "external_id": "",
        "status": "active", "daily_budget": "40", "currency": "usd", "starts_on": "",
        "ends_on": "", "utm_campaign": "autumn", "ads-TOTAL_FORMS": "0",
        "ads-INITIAL_FORMS": "0", "ads-MIN_NUM_FORMS": "0", "ads-MAX_NUM_FORMS": "1000",
    })  # fmt: skip
    campaign = user.ad_campaigns.get()
    assert campaign.currency == "USD"  # the service's normalisation, not the form's
    staff_client.post(reverse("admin:jobs_ad_add"), {
        "campaign": campaign.id, "name": "Teaser", "external_id": "", "status": "active",
        "daily_budget": "10", "starts_on": "", "ends_on": "", "utm_content": "",
        "narration_job": "", "media_job": "", "fatigue_findings-TOTAL_FORMS": "0",
        "fatigue_findings-INITIAL_FORMS": "0", "fatigue_findings-MIN_NUM_FORMS": "0",
        "fatigue_findings-MAX_NUM_FORMS": "1000",
    })  # fmt: skip
    ad = campaign.ads.get()
    assert ad.utm_content.startswith("sc-")
    assert list(AdsAuditEntry.objects.filter(actor=staff).values_list("action", flat=True)) == [
        "ad.created", "campaign.created",
    ]  # fmt: skip


def test_check_fatigue_now_judges_the_selected_ads(staff_client, campaign):
    worn = make_ad(campaign, name="Worn out")
    write_history(worn, days=30, impressions=20000, ctr=lambda day: 0.03 if day < 12 else 0.012,
                  frequency=lambda day: 1.2 + day * 0.1, seed=4)  # fmt: skip
    untouched = make_ad(campaign, name="Not selected")
    response = staff_client.post(
        reverse("admin:jobs_ad_changelist"),
        {"action": "check_fatigue", "_selected_action": [worn.id]},
        follow=True,
    )
    assert "Checked 1 ads: 1 wearing out" in response.content.decode()
    worn.refresh_from_db()
    untouched.refresh_from_db()
    assert worn.fatigue == Ad.Fatigue.FATIGUED and untouched.fatigue == Ad.Fatigue.UNCHECKED
    assert worn.fatigue_findings.filter(is_open=True).exists()


def test_csv_upload_stores_the_good_rows_and_lists_the_refused_ones(
    staff_client, user, campaign, django_user_model
):
    ad = make_ad(campaign, name="Banner", external_id="998877")
    make_campaign(django_user_model.objects.create_user("bob"), name="Bob's")
    day = date.today() - timedelta(days=2)
    csv = (
        "ad_external_id,date,impressions,clicks,spend\n"
        f"998877,{day},1000,20,8.50\n"
        f"998877,{day - timedelta(days=1)},900,1000,7.10\n"
        f"nope,{day},10,1,0.1\n"
    )
    url = reverse("admin:jobs_adsnapshot_upload")
    form = _page(staff_client, "adsnapshot_upload")
    assert "alice" in form and "bob" in form  # owners of campaigns to choose from
    assert url in _page(staff_client, "adsnapshot_changelist")  # the button
    upload = SimpleUploadedFile("meta.csv", csv.encode(), content_type="text/csv")
    page = staff_client.post(url, {"owner": user.id, "file": upload}).content.decode()
    assert "3 rows read: 1 stored new, 0 updated, 2 refused" in page
    assert "clicks (1000) exceed impressions (900)." in page
    assert "<td>4</td><td>nope</td>" in page and "Unknown ad" in page
    assert AdSnapshot.objects.get(ad=ad).impressions == 1000

    excel = SimpleUploadedFile("meta.xlsx", b"PK\x03\x04rest", content_type="application/zip")
    refused = staff_client.post(url, {"owner": user.id, "file": excel}).content.decode()
    assert "export the sheet as CSV UTF-8" in refused


def test_winner_search_finds_the_indexed_winner(staff_client, user, won):
    winner, _ = won
    summary = winners.winners_pass()
    assert summary["winners"] == 1
    url = reverse("admin:jobs_winnerentry_search")
    assert url in _page(staff_client, "winnerentry_changelist")  # the link to the search
    page = staff_client.get(url, {"text": "webinar invitation for the spring sale"})
    body = page.content.decode()
    assert "1 winning ad among every owner" in body
    assert "Spring sale webinar invitation" in body and "Spring launch" in body
    assert reverse("admin:jobs_ad_change", args=[winner.id]) in body and "alice" in body
    empty = staff_client.get(url, {"text": "", "job": ""}).content.decode()
    assert "Give words to search for" in empty
    unknown = staff_client.get(url, {"job": "not-a-job"}).content.decode()
    assert "is not a valid UUID" in unknown


def test_accepting_a_budget_suggestion_records_the_operator(staff_client, staff, campaign, won):
    suggestion = budgets.budget_suggest(campaign=campaign)
    url = reverse("admin:jobs_budgetsuggestion_changelist")
    chosen = {"action": "accept_suggestions", "_selected_action": [suggestion.id]}
    asked = staff_client.post(url, chosen).content.decode()
    assert "Accept 1 budget suggestions" in asked and suggestion.summary[:30] in asked
    done = staff_client.post(url, {**chosen, "confirmed": "yes"}, follow=True).content.decode()
    assert "Accept: 1 of 1 budget suggestions." in done
    suggestion.refresh_from_db()
    assert suggestion.status == BudgetSuggestion.Status.ACCEPTED
    assert suggestion.decided_by == staff
    entry = AdsAuditEntry.objects.get(action="budget_suggestion.accepted")
    assert entry.actor == staff and entry.suggestion == suggestion
    line = suggestion.lines.first()
    assert Ad.objects.get(id=line.ad_id).daily_budget == line.suggested_budget

    again = staff_client.post(url, {**chosen, "action": "reject_suggestions",
                                    "confirmed": "yes"}, follow=True).content.decode()  # fmt: skip
    assert "Reject: 0 of 1" in again and "can no longer be rejected" in again


def test_rematch_attributes_conversions_to_ads_that_exist_now(staff_client, campaign):
    item = _crm_item("late-ad")
    make_ad(campaign, name="Added late", utm_content="late-ad")
    url = reverse("admin:jobs_crmeventitem_rematch")
    listing = reverse("admin:jobs_crmeventitem_changelist") + "?outcome__exact=unmatched"
    assert url in _page(staff_client, "crmeventitem_changelist")  # the button
    assert staff_client.get(url).status_code == 405
    page = staff_client.post(url, {"next": listing}, follow=True)
    assert page.redirect_chain[-1][0] == listing
    assert "Matched 1 unmatched conversions to ads." in page.content.decode()
    assert CrmConversion.objects.get(id=item.conversion_id).ad.name == "Added late"
    away = staff_client.post(url, {"next": "https://elsewhere.example/"})
    assert away["Location"] == reverse("admin:jobs_crmeventitem_changelist")


def test_dashboard_shows_the_ads_section_and_the_ads_periodic_tasks(staff_client, won):
    winners.winners_pass()
    _crm_item("nobody")
    _crm_item("someone-else")
    last = int(time.time()) - 3600
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_periodic_defers (task_name, defer_timestamp) "
            "VALUES ('slidecast.ads_fatigue', %s)",
            [last],
        )
    page = staff_client.get(reverse("oversight-dashboard")).content.decode()
    ads = page[page.index('id="ov-ads"') : page.index('id="ov-limits"')]
    assert "Winner indexing" in ads and "winners 1" in ads and "considered 3" in ads
    assert "Fatigue detection" in ads and "never" in ads
    unmatched = reverse("admin:jobs_crmeventitem_changelist") + "?outcome__exact=unmatched"
    assert f'href="{unmatched}">2</a>' in ads
    periodic = page[page.index('id="ov-periodic"') :]
    periodic = periodic[: periodic.index("</table>")]
    rows = {row.split("</td>")[0]: row for row in periodic.split("<tr><td>")[1:]}
    assert {"ads fatigue", "ads winners", "ads budgets"} <= set(rows)
    when = timezone.localtime(datetime.fromtimestamp(last, tz=UTC))
    assert when.strftime("%Y-%m-%d %H:%M") in rows["ads fatigue"]
    assert "never" in rows["ads budgets"]
    assert reverse("oversight-periodic-run", args=["slidecast.ads_budgets"]) in rows["ads budgets"]
