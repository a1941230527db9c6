"""CRM deliveries posted, signed, to the real endpoint, then turned into conversions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils.html import escape
from procrastinate.contrib.django.models import ProcrastinateJob

from jobs.ads import crm
from jobs.ads.crm import crm_delivery_process, crm_rematch
from jobs.ads.models import CrmConversion, CrmEventItem
from jobs.ads.selectors_crm import crm_unmatched_conversions, crm_unmatched_items
from jobs.integrations.models import InboundEvent
from jobs.worker.inprocess import in_process_worker
from tests.jobs.ads.factories import make_ad, make_campaign

pytestmark = pytest.mark.django_db

# Events happened in the last hour: HubSpot reports times in milliseconds since 1970.
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def moment(seconds: int) -> datetime:
    return BASE + timedelta(seconds=seconds)


def at(seconds: int) -> int:
    return int(moment(seconds).timestamp()) * 1000


def hubspot(event_id, kind: str, object_id, seconds: int, **properties) -> dict:
    event = {"eventId": event_id, "subscriptionType": kind, "objectId": object_id,
             "occurredAt": at(seconds), "portalId": 62515, "attemptNumber": 0}  # fmt: skip
    return event | ({"properties": properties} if properties else {})


def change(event_id, kind: str, object_id, seconds: int, name: str, value: str) -> dict:
    return hubspot(event_id, f"{kind}.propertyChange", object_id, seconds) | {
        "propertyName": name, "propertyValue": value,
    }  # fmt: skip


def post_hubspot(client, events: list) -> InboundEvent:
    body = json.dumps(events).encode()
    timestamp = str(int(time.time() * 1000))
    message = b"POST" + b"http://testserver/api/webhooks/hubspot" + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(b"hs-secret", message, hashlib.sha256).digest())
    response = client.post(
        "/api/webhooks/hubspot", body, content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature.decode(), HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )  # fmt: skip
    assert response.status_code in (200, 202), response.content
    return InboundEvent.objects.get(source="hubspot", event_id=response.json()["event_id"])


def post_crm(client, body: bytes) -> InboundEvent:
    timestamp = int(time.time())
    digest = hmac.new(b"crm-secret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    response = client.post("/api/webhooks/crm", body, content_type="application/json",
                           HTTP_SLIDECAST_SIGNATURE=f"t={timestamp},v1={digest}")  # fmt: skip
    assert response.status_code == 202, response.content
    return InboundEvent.objects.get(source="crm", event_id=response.json()["event_id"])


def process(delivery: InboundEvent) -> InboundEvent:
    crm_delivery_process(inbound_event_id=delivery.id)
    delivery.refresh_from_db()
    return delivery


def deliver(client, events: list) -> InboundEvent:
    return process(post_hubspot(client, events))


def log(delivery: InboundEvent) -> list[tuple[str, str]]:
    return list(delivery.crm_items.order_by("id").values_list("outcome", "detail"))


def conversion(object_id) -> CrmConversion:
    return CrmConversion.objects.select_related("ad").get(object_id=str(object_id))


@pytest.fixture
def ad(user):
    campaign = make_campaign(user, name="Spring", utm_campaign="spring")
    return make_ad(campaign, name="Spring promo", utm_content="spring-1")


def test_a_lead_matches_its_ad_by_utm_content(client, ad):
    delivery = deliver(client, [hubspot(1, "contact.creation", 501, 0, utm_content="spring-1",
                                        utm_campaign="spring", utm_source="meta")])  # fmt: skip

    assert delivery.status == "processed" and delivery.processed_at
    lead = conversion(501)
    assert (lead.kind, lead.object_type, lead.ad, lead.counts) == ("lead", "contact", ad, True)
    assert (lead.revenue, lead.contact_id, lead.occurred_at) == (0, "501", moment(0))
    assert lead.attribution["utm_source"] == "meta"
    item = delivery.crm_items.get()
    assert (item.event_id, item.subscription_type, item.occurred_at, item.conversion) == (
        "1", "contact.creation", moment(0), lead,
    )  # fmt: skip
    assert log(delivery) == [("applied", "Lead for ad 'Spring promo' via utm_content=spring-1.")]


def test_a_lead_matches_by_ad_id_or_by_its_landing_url(client, ad):
    summer = make_ad(ad.campaign, name="Summer", utm_content="summer-2")
    first_url = "https://example.com/offer?utm_source=meta&utm_content=summer-2"
    delivery = deliver(client, [
        hubspot(1, "contact.creation", 501, 0, slidecast_ad_id=str(ad.id)),
        hubspot(2, "contact.creation", 502, 0, hs_analytics_first_url=first_url),
        hubspot(3, "contact.creation", 503, 0, landing_url=f"https://example.com/?sc_ad={summer.id}"),
        hubspot(4, "contact.creation", 504, 0),
        # HubSpot fills a contact's analytics properties a little after creating it.
        change(5, "contact", 504, 30, "hs_analytics_first_url", "https://x.io/?utm_content=spring-1"),
    ])  # fmt: skip

    assert [conversion(n).ad for n in (501, 502, 503, 504)] == [ad, summer, summer, ad]
    assert log(delivery) == [
        ("applied", "Lead for ad 'Spring promo' via slidecast_ad_id."),
        ("applied", "Lead for ad 'Summer' via utm_content=summer-2 in the landing URL."),
        ("applied", "Lead for ad 'Summer' via sc_ad in the landing URL."),
        ("unmatched", "No ad matched: the event carries no slidecast_ad_id or utm_content. "
                      "Lead, kept unmatched."),
        ("applied", "Lead for ad 'Spring promo' via utm_content=spring-1 in the landing URL."),
    ]  # fmt: skip
    assert conversion(504).occurred_at == moment(0)  # the lead came when the contact did


def test_a_won_deal_counts_its_amount_until_it_is_lost_or_deleted(client, ad):
    first = deliver(client, [hubspot(10, "deal.creation", 900, 0, dealstage="appointmentscheduled",
                                     amount="500", deal_currency_code="usd",
                                     utm_content="spring-1")])  # fmt: skip
    deal = conversion(900)
    assert (deal.kind, deal.counts, deal.revenue, deal.currency) == (
        "purchase", False, Decimal(500), "USD",
    )  # fmt: skip
    assert log(first) == [("applied", "Deal at stage appointmentscheduled, not counted until won "
                                      "(ad 'Spring promo' via utm_content=spring-1).")]  # fmt: skip

    won = deliver(client, [change(11, "deal", 900, 60, "dealstage", "closedwon")])
    deal = conversion(900)
    assert (deal.counts, deal.occurred_at, deal.ad) == (True, moment(60), ad)
    assert log(won) == [
        ("applied", "Purchase of 500.00 USD for ad 'Spring promo' via utm_content=spring-1.")
    ]
    deliver(client, [change(12, "deal", 900, 120, "amount", "650.5")])
    assert conversion(900).revenue == Decimal("650.5")

    deliver(client, [change(13, "deal", 900, 180, "dealstage", "closedlost")])
    assert conversion(900).counts is False
    deliver(client, [change(14, "deal", 900, 240, "dealstage", "closedwon")])
    assert conversion(900).counts is True
    deleted = deliver(client, [hubspot(15, "deal.deletion", 900, 300)])
    deal = conversion(900)
    assert (deal.counts, deal.last_event_at) == (False, moment(300))
    assert log(deleted) == [
        ("applied", "Deal deleted, not counted (ad 'Spring promo' via utm_content=spring-1).")
    ]


def test_a_deletion_that_arrives_first_still_wins(client, ad):
    deliver(client, [hubspot(16, "deal.deletion", 901, 60)])
    assert not crm_unmatched_conversions().exists()  # a deleted deal is nothing to match
    late = deliver(client, [hubspot(17, "deal.creation", 901, 0, dealstage="closedwon",
                                    amount="90", utm_content="spring-1")])  # fmt: skip

    deal = conversion(901)
    assert (deal.counts, deal.revenue, deal.ad, deal.last_event_at) == (
        False, Decimal(90), ad, moment(60),
    )  # fmt: skip
    assert log(late)[0][1].endswith(
        "An older event: it only filled in dealstage, amount, utm_content."
    )


def test_a_deal_follows_its_contacts_ad_whichever_arrives_first(client, ad):
    early = deliver(client, [hubspot(20, "deal.creation", 910, 10, dealstage="closedwon",
                                     amount="80", associatedContactId="601")])  # fmt: skip
    assert log(early) == [("unmatched", "No ad matched: the deal carries no slidecast_ad_id or "
                                        "utm_content, and its contact 601 is not known yet. "
                                        "Purchase of 80.00, kept unmatched.")]  # fmt: skip
    deliver(client, [hubspot(21, "contact.creation", 601, 0, utm_content="spring-1")])
    assert conversion(910).ad == ad

    deliver(client, [hubspot(22, "contact.creation", 602, 0, utm_content="spring-1")])
    late = deliver(client, [hubspot(23, "deal.creation", 911, 10, dealstage="closedwon",
                                    amount="80", associatedContactId="602")])  # fmt: skip
    assert log(late) == [
        ("applied", "Purchase of 80.00 for ad 'Spring promo' via its contact 602.")
    ]


def test_a_replayed_delivery_is_ignored_and_processing_it_again_changes_nothing(client, ad):
    events = [hubspot(30, "contact.creation", 701, 0, utm_content="spring-1")]
    delivery = deliver(client, events)

    assert post_hubspot(client, events) == delivery  # answered "duplicate", not stored again
    process(delivery)
    InboundEvent.objects.filter(id=delivery.id).update(status="received")  # as a task retry
    process(delivery)

    assert InboundEvent.objects.count() == 1 and delivery.status == "processed"
    assert log(delivery) == [("applied", "Lead for ad 'Spring promo' via utm_content=spring-1.")]
    assert CrmConversion.objects.count() == 1


def test_an_event_seen_in_another_delivery_is_a_duplicate(client, ad):
    first = deliver(client, [hubspot(40, "contact.creation", 702, 0, utm_content="spring-1")])
    second = deliver(client, [
        hubspot(40, "contact.creation", 702, 0, utm_content="spring-1"),
        hubspot(41, "contact.creation", 703, 5, utm_content="spring-1"),
        hubspot(41, "contact.creation", 703, 5, utm_content="spring-1"),
    ])  # fmt: skip

    assert log(second) == [
        ("duplicate", f"Event 40 was seen before (in delivery #{first.id}, applied): "
                      "nothing changed."),
        ("applied", "Lead for ad 'Spring promo' via utm_content=spring-1."),
        ("duplicate", "Event 41 was seen before (earlier in this delivery, applied): "
                      "nothing changed."),
    ]  # fmt: skip
    duplicate = second.crm_items.order_by("id").first()
    assert duplicate.conversion == conversion(702)
    assert CrmConversion.objects.count() == 2


def test_a_retry_after_a_crash_midway_logs_each_event_once(client, ad, monkeypatch):
    delivery = post_hubspot(client, [
        hubspot(50, "contact.creation", 801, 0, utm_content="spring-1"),
        hubspot(51, "contact.creation", 802, 0, utm_content="spring-1"),
        hubspot(52, "contact.creation", 803, 0),
    ])  # fmt: skip
    apply, calls = crm._event_apply, []

    def crash_on_the_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return apply(**kwargs)

    monkeypatch.setattr(crm, "_event_apply", crash_on_the_second)
    with pytest.raises(OperationalError):
        crm_delivery_process(inbound_event_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == "received" and delivery.crm_items.count() == 1

    monkeypatch.setattr(crm, "_event_apply", apply)
    process(delivery)
    assert delivery.status == "processed"
    assert list(delivery.crm_items.order_by("id").values_list("event_id", "outcome")) == [
        ("50", "applied"), ("51", "applied"), ("52", "unmatched"),
    ]  # fmt: skip
    assert CrmConversion.objects.count() == 3


def _deal_sequence(deal_id: int) -> list[dict]:
    base = deal_id * 10
    return [
        hubspot(base + 1, "deal.creation", deal_id, 0, dealstage="appointmentscheduled",
                amount="500", deal_currency_code="EUR", utm_content="spring-1"),
        change(base + 2, "deal", deal_id, 120, "dealstage", "closedlost"),
        change(base + 3, "deal", deal_id, 180, "dealstage", "closedwon"),
    ]  # fmt: skip


def _final_state(deal: CrmConversion) -> tuple:
    times = {name: version[0] for name, version in deal.attribution["_field_times"].items()}
    fields = {key: value for key, value in deal.attribution.items() if key != "_field_times"}
    return (deal.kind, deal.counts, deal.revenue, deal.currency, deal.ad_id, deal.occurred_at,
            deal.last_event_at, fields, times)  # fmt: skip


def test_events_in_any_order_end_in_the_same_state(client, ad):
    states, outcomes = [], {}
    for number, order in enumerate(itertools.permutations(range(3))):
        separate, together = 1000 + number, 2000 + number
        for index in order:
            deliver(client, [_deal_sequence(separate)[index]])
        deliver(client, [_deal_sequence(together)[index] for index in order])
        for deal_id in (separate, together):
            states.append(_final_state(conversion(deal_id)))
        outcomes[order] = list(
            CrmEventItem.objects.filter(conversion__object_id=str(separate))
            .order_by("id")
            .values_list("outcome", flat=True)
        )

    assert len(states) == 12 and all(state == states[0] for state in states)
    kind, counts, revenue, currency, ad_id, occurred_at, last_event_at, _, _ = states[0]
    assert (kind, counts, revenue, currency, ad_id) == ("purchase", True, 500, "EUR", ad.id)
    assert (occurred_at, last_event_at) == (moment(180), moment(180))
    assert outcomes[(0, 1, 2)] == ["applied", "applied", "applied"]
    # Won before it was created: the creation still brings the amount; the loss is too old.
    assert outcomes[(2, 1, 0)] == ["unmatched", "stale", "applied"]
    stale = CrmEventItem.objects.get(event_id="10052")  # deal 1005: order (2, 1, 0)
    assert stale.detail == (
        f"Older than the last event applied ({moment(180):%Y-%m-%d %H:%M:%S} UTC): nothing changed."
    )


def test_unmatched_conversions_are_kept_listed_and_rematched_once_the_ad_exists(client, user, ad):
    delivery = deliver(client, [
        hubspot(60, "contact.creation", 610, 0, utm_content="autumn-1", utm_campaign="autumn"),
        hubspot(61, "deal.creation", 920, 5, dealstage="closedwon", amount="120",
                associatedContactId="610"),
        hubspot(62, "contact.creation", 611, 0),
    ])  # fmt: skip
    assert [outcome for outcome, _ in log(delivery)] == ["unmatched"] * 3
    assert (
        log(delivery)[0][1]
        == "No ad matched: no ad has utm_content=autumn-1. Lead, kept unmatched."
    )
    assert crm_unmatched_items().count() == 3 and crm_unmatched_conversions().count() == 3

    autumn = make_ad(
        make_campaign(user, utm_campaign="autumn"), name="Autumn", utm_content="autumn-1"
    )
    assert crm_rematch(ad=autumn) == 2  # the contact, and its deal with it

    assert (conversion(610).ad, conversion(920).ad, conversion(611).ad) == (autumn, autumn, None)
    assert [item.event_id for item in crm_unmatched_items()] == ["62"]
    assert crm_rematch() == 0


def test_a_utm_campaign_that_disagrees_leaves_the_event_unmatched(client, ad):
    delivery = deliver(client, [hubspot(70, "contact.creation", 620, 0, utm_content="spring-1",
                                        utm_campaign="summer")])  # fmt: skip

    assert conversion(620).ad is None
    assert log(delivery) == [("unmatched", "No ad matched: utm_content=spring-1 is ad 'Spring "
                                           "promo' of campaign 'Spring' (utm_campaign=spring), "
                                           "but the event says utm_campaign=summer. Lead, kept "
                                           "unmatched.")]  # fmt: skip


def test_malformed_and_unrelated_events_are_logged_and_change_nothing(client, ad):
    delivery = deliver(client, [
        {"subscriptionType": "contact.creation", "objectId": 1, "occurredAt": at(0)},
        {"eventId": 81, "subscriptionType": "contact.creation", "occurredAt": at(0)},
        hubspot(82, "contact.creation", 2, 0) | {"occurredAt": at(0) // 1000},
        hubspot(83, "contact.creation", 3, 0) | {"occurredAt": at(10 * 86400)},
        hubspot(84, "deal.creation", 4, 0, amount="lots"),
        change(85, "contact", 5, 0, "firstname", "Ada"),
        hubspot(86, "company.creation", 6, 0),
        "not an event",
    ])  # fmt: skip

    assert delivery.status == "processed" and CrmConversion.objects.count() == 0
    assert log(delivery) == [
        ("invalid", "The event has no eventId."),
        ("invalid", "The event has no objectId (or object_id)."),
        ("invalid", f"The event's time {at(0) // 1000} is not in milliseconds."),
        ("invalid", f"The event's time {at(10 * 86400)} is in the future."),
        ("invalid", "The amount 'lots' is not a number."),
        ("ignored", "A change of 'firstname' on a contact is not about conversions."),
        ("ignored", "company.creation events are not about conversions."),
        ("invalid", "The event is not an object."),
    ]
    unnamed = delivery.crm_items.order_by("id").first()
    assert unnamed.event_id == f"invalid:{delivery.id}:0" and unnamed.occurred_at == moment(0)
    InboundEvent.objects.filter(id=delivery.id).update(status="received")
    assert process(delivery).crm_items.count() == 8  # a retry finds them by their place


def test_generic_events_from_another_crm(client, ad):
    body = json.dumps({"events": [
        {"id": "order-7", "type": "purchase", "object_id": "7", "ad_id": str(ad.id),
         "value": "99.90", "currency": "eur", "occurred_at": moment(0).isoformat()},
        {"id": "lead-8", "type": "lead", "utm": {"content": "spring-1", "campaign": "spring"},
         "occurred_at": moment(5).isoformat()},
        {"id": "refund-9", "type": "refund", "occurred_at": moment(5).isoformat()},
    ]}).encode()  # fmt: skip
    delivery = process(post_crm(client, body))

    purchase, lead = conversion(7), conversion("lead-8")
    assert (purchase.source, purchase.kind, purchase.counts) == ("crm", "purchase", True)
    assert (purchase.revenue, purchase.currency) == (Decimal("99.90"), "EUR")
    assert (purchase.ad, lead.ad, lead.kind, lead.occurred_at) == (ad, ad, "lead", moment(5))
    assert log(delivery) == [
        ("applied", "Purchase of 99.90 EUR for ad 'Spring promo' via slidecast_ad_id."),
        ("applied", "Lead for ad 'Spring promo' via utm_content=spring-1."),
        ("ignored", "Events of type 'refund' are not about conversions."),
    ]


def test_the_admin_shows_what_each_event_of_a_delivery_became(client, django_user_model, ad):
    delivery = deliver(client, [hubspot(95, "contact.creation", 640, 0, utm_content="spring-1"),
                                hubspot(96, "contact.creation", 641, 0)])  # fmt: skip
    client.force_login(django_user_model.objects.create_superuser("ops", "o@x.io", "ops-pass-1"))

    page = client.get(reverse("admin:jobs_inboundevent_change", args=[delivery.id]))
    assert page.status_code == 200
    content = page.content.decode()
    assert escape("Lead for ad 'Spring promo' via utm_content=spring-1.") in content
    assert escape("No ad matched: the event carries no slidecast_ad_id or utm_content.") in content
    changelist = reverse("admin:jobs_inboundevent_changelist")
    unmatched = client.get(changelist, {"crm_items__outcome__exact": "unmatched"})
    assert list(unmatched.context["cl"].result_list) == [delivery]
    stale = client.get(changelist, {"crm_items__outcome__exact": "stale"})
    assert list(stale.context["cl"].result_list) == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_processes_deliveries_and_fails_a_body_that_is_not_json_for_good(
    client, run_worker, ad
):
    # run_worker gives an empty queue and a committed database; the worker runs here.
    good = post_hubspot(client, [hubspot(97, "contact.creation", 650, 0, utm_content="spring-1")])
    bad = post_crm(client, b"<event>not json</event>")
    with in_process_worker(queues=["cpu"], concurrency=1):
        deadline = time.monotonic() + 30
        while (
            InboundEvent.objects.filter(status="received").exists() and time.monotonic() < deadline
        ):
            time.sleep(0.2)

    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "processed" and conversion(650).ad == ad
    assert bad.status == "failed" and bad.error.startswith("The body is not JSON: ")
    runs = ProcrastinateJob.objects.filter(task_name="slidecast.process_inbound_event")
    assert sorted(runs.values_list("status", "attempts")) == [("succeeded", 1)] * 2  # one run each


@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_the_same_event_at_once_log_it_once(client, ad, monkeypatch):
    event = hubspot(98, "contact.creation", 660, 0, utm_content="spring-1")
    first = post_hubspot(client, [event])
    second = post_hubspot(client, [event, hubspot(99, "contact.creation", 661, 0)])
    apply, first_applied, second_waits = crm._event_apply, threading.Event(), threading.Event()

    def apply_then_wait_for_the_other_worker(**kwargs):
        result = apply(**kwargs)
        if threading.current_thread().name == "first":
            first_applied.set()
            second_waits.wait(10)  # commit only once the second worker waits on our locks
        return result

    def work(delivery: InboundEvent) -> None:
        try:
            crm_delivery_process(inbound_event_id=delivery.id)
        finally:
            connection.close()

    monkeypatch.setattr(crm, "_event_apply", apply_then_wait_for_the_other_worker)
    workers = [threading.Thread(target=work, args=(first,), name="first"),
               threading.Thread(target=work, args=(second,), name="second")]  # fmt: skip
    workers[0].start()
    assert first_applied.wait(10)
    workers[1].start()
    deadline = time.monotonic() + 10
    while not _a_session_waits_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    waited = _a_session_waits_for_a_lock()
    second_waits.set()
    for worker in workers:
        worker.join(30)

    assert waited
    assert [outcome for outcome, _ in log(first)] == ["applied"]
    assert log(second)[0] == ("duplicate", f"Event 98 was seen before (in delivery #{first.id}, "
                                           "applied): nothing changed.")  # fmt: skip
    assert [outcome for outcome, _ in log(second)][1:] == ["unmatched"]
    assert CrmConversion.objects.count() == 2


def _a_session_waits_for_a_lock() -> bool:
    # Outside a transaction: inside one, pg_stat_activity would answer from a snapshot.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0
