"""CRM deliveries turned into conversions: leads and won deals, attributed to ads.

An event names a CRM object (a contact or a deal) and some of its fields as of a moment.
Each field keeps the time (and event id) of the event that set it, and an event sets only
the fields it is newer for: a conversion ends in the same state whatever order its events
arrive in, and an event applied twice changes nothing.

A conversion's `attribution` holds the ad id, UTM values and landing URL seen, plus what the
merge needs: `_state` (dealstage, amount, currency, contact_id, deleted), `_field_times`
(each field's [ms, event id]) and, for a contact, `_first_ms` (when it first appeared).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from jobs.ads.crm_events import (
    ATTRIBUTION_FIELDS,
    AdKeys,
    CrmEvent,
    CrmItem,
    crm_item_read,
    datetime_from_ms,
    ms_from_datetime,
)
from jobs.ads.models import Ad, CrmConversion, CrmEventItem
from jobs.integrations.inbound import inbound_event_complete, inbound_event_fail
from jobs.integrations.models import InboundEvent

logger = logging.getLogger("slidecast.crm")

Outcome = CrmEventItem.Outcome

WON_STAGES = frozenset({"closedwon", "won"})


@dataclass(frozen=True)
class _Match:
    ad: Ad | None
    how: str  # "via …" when an ad matched, else why none did


class _Unreadable(Exception):
    """The delivery's body holds no events at all: retrying cannot help."""


def crm_delivery_process(*, inbound_event_id: int) -> None:
    """Apply each event of a stored delivery to its conversion and log what it became.

    Each event is applied and logged in one transaction, and a run skips the events an
    earlier run of this delivery logged, so a retry after a crash repeats nothing. A body
    without events fails the delivery for good; database errors propagate for a retry.
    """
    delivery = InboundEvent.objects.get(id=inbound_event_id)
    if delivery.status == InboundEvent.Status.PROCESSED:
        return
    try:
        items = _delivery_items(delivery.body)
    except _Unreadable as exc:
        inbound_event_fail(event_id=delivery.id, error=str(exc))
        return
    logged = Counter(delivery.crm_items.values_list("event_id", flat=True))
    seen: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for index, raw in enumerate(items):
        item = crm_item_read(raw)
        # An item without a usable id is named by its place, which a retry finds again.
        event_id = item.event_id or f"invalid:{delivery.id}:{index}"
        seen[event_id] += 1
        if seen[event_id] > logged[event_id]:
            outcomes[_item_handle(delivery=delivery, item=item, event_id=event_id, raw=raw)] += 1
    inbound_event_complete(event_id=delivery.id)
    logger.info("%s delivery %s: %s", delivery.source, delivery.event_id, dict(outcomes))


def crm_rematch(*, ad: Ad | None = None) -> int:
    """Attribute the unmatched conversions that now match an ad (or `ad`); return how many."""
    candidates = CrmConversion.objects.filter(ad__isnull=True)
    if ad is not None:
        candidates = candidates.filter(
            Q(attribution__slidecast_ad_id=str(ad.id))
            | Q(attribution__utm_content=ad.utm_content)
            | Q(attribution__landing_url__icontains=ad.utm_content)
            | Q(attribution__landing_url__icontains=str(ad.id))
        )
    # Contacts first: the deals that follow them are then matched already.
    keys = candidates.order_by("object_type", "id").values_list("id", "source", "contact_id")
    return sum(_conversion_rematch(*key) for key in keys)


def _conversion_rematch(conversion_id: int, source: str, contact_id: str) -> int:
    with transaction.atomic():
        _contact_lock(source=source, contact_id=contact_id)
        unmatched = CrmConversion.objects.filter(id=conversion_id, ad__isnull=True)
        conversion = unmatched.select_for_update().first()
        # None: matched meanwhile, as the deal of a contact matched just before.
        match = _ad_match(conversion) if conversion is not None else None
        if match is None or match.ad is None:
            return 0
        conversion.ad = match.ad
        conversion.save(update_fields=["ad", "updated_at"])
        followers = _contact_deals_follow(conversion) if conversion.object_type == "contact" else 0
        return 1 + followers


def _delivery_items(body: str) -> list:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise _Unreadable(f"The body is not JSON: {exc}.") from exc
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        return payload["events"]
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        return [payload]
    raise _Unreadable("The body is JSON but neither an event nor a list of events.")


def _item_handle(*, delivery: InboundEvent, item: CrmItem, event_id: str, raw) -> str:
    """Apply the item (unless seen before) and log it; return its outcome."""
    try:
        with transaction.atomic():
            earlier = _item_earlier(source=delivery.source, event_id=event_id)
            if earlier is not None:
                return _item_log_duplicate(delivery, item, event_id, raw, earlier)
            outcome, detail, conversion = item.outcome, item.detail, None
            if item.event is not None:
                outcome, detail, conversion = _event_apply(source=delivery.source, event=item.event)
            _item_log(delivery, item, event_id, raw, outcome, detail, conversion)
            return outcome
    except IntegrityError:
        # Another delivery logged the same event id while this one was applying it.
        earlier = _item_earlier(source=delivery.source, event_id=event_id)
        if earlier is None:
            raise
        return _item_log_duplicate(delivery, item, event_id, raw, earlier)


def _item_earlier(*, source: str, event_id: str) -> CrmEventItem | None:
    return (
        CrmEventItem.objects.filter(source=source, event_id=event_id)
        .exclude(outcome=Outcome.DUPLICATE)
        .first()
    )


def _item_log(delivery, item: CrmItem, event_id: str, raw, outcome: str, detail: str,
              conversion: CrmConversion | None) -> None:  # fmt: skip
    CrmEventItem.objects.create(
        inbound_event=delivery, source=delivery.source, event_id=event_id,
        subscription_type=item.type, outcome=outcome, detail=detail[:500],
        conversion=conversion, payload=raw, occurred_at=item.occurred_at,
    )  # fmt: skip


def _item_log_duplicate(delivery, item: CrmItem, event_id: str, raw, earlier: CrmEventItem) -> str:
    where = (
        "earlier in this delivery"
        if earlier.inbound_event_id == delivery.id
        else f"in delivery #{earlier.inbound_event_id}"
    )
    detail = f"Event {event_id} was seen before ({where}, {earlier.outcome}): nothing changed."
    _item_log(delivery, item, event_id, raw, Outcome.DUPLICATE, detail, earlier.conversion)
    return Outcome.DUPLICATE


# Applying an event to its conversion.


def _event_apply(*, source: str, event: CrmEvent) -> tuple[str, str, CrmConversion]:
    """Merge the event into its conversion (locked); return the outcome, detail, conversion."""
    _contact_lock(source=source, contact_id=_contact_id_of(source=source, event=event))
    conversion = _conversion_locked(source=source, event=event)
    times = conversion.attribution.get("_field_times")
    is_new = times is None
    times = dict(times or {})
    fields = _fields_of(conversion)
    filled = [name for name in event.fields if name not in times or event.version > times[name]]
    for name in filled:
        fields[name], times[name] = event.fields[name], event.version
    first_ms = conversion.attribution.get("_first_ms", event.at_ms)
    last_ms = ms_from_datetime(conversion.last_event_at)
    # An older event still moves a lead's date back: a lead happened when its contact appeared.
    earlier_lead = conversion.object_type == "contact" and event.at_ms < first_ms
    if not (is_new or filled or earlier_lead or event.at_ms > last_ms):
        detail = (
            f"Older than the last event applied ({conversion.last_event_at:%Y-%m-%d %H:%M:%S} "
            "UTC): nothing changed."
        )
        return Outcome.STALE, detail, conversion
    _conversion_set(conversion, fields=fields, times=times, first_ms=min(first_ms, event.at_ms),
                    last_ms=max(last_ms, event.at_ms))  # fmt: skip
    match = _ad_match(conversion)
    conversion.ad = match.ad
    conversion.save()
    if conversion.object_type == "contact":
        _contact_deals_follow(conversion)
    detail = _detail(conversion, match)
    if not is_new and event.at_ms < last_ms and filled:
        detail += f" An older event: it only filled in {', '.join(filled)}."
    return (Outcome.APPLIED if match.ad else Outcome.UNMATCHED), detail, conversion


def _contact_id_of(*, source: str, event: CrmEvent) -> str:
    if event.object_type == "contact":
        return event.object_id
    stored = CrmConversion.objects.filter(
        source=source, object_type="deal", object_id=event.object_id
    ).values_list("contact_id", flat=True)
    return event.fields.get("contact_id") or stored.first() or ""


def _contact_lock(*, source: str, contact_id: str) -> None:
    """Hold a contact's lock until commit, taken before any row lock.

    A contact's events and its deals' events then run one after the other: otherwise a new
    deal could miss the ad of a contact matched in a transaction not committed yet, and
    the contact could miss the deal, not committed yet either.
    """
    if contact_id:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"slidecast.crm_contact:{source}:{contact_id}"],
            )


def _conversion_locked(*, source: str, event: CrmEvent) -> CrmConversion:
    key = {"source": source, "object_type": event.object_type, "object_id": event.object_id}
    at = datetime_from_ms(event.at_ms)
    kind = CrmConversion.Kind.PURCHASE if event.object_type == "deal" else CrmConversion.Kind.LEAD
    # Insert-if-absent, then lock: two workers meeting on a new object never both insert it.
    CrmConversion.objects.bulk_create(
        [CrmConversion(**key, kind=kind, counts=False, occurred_at=at, last_event_at=at)],
        ignore_conflicts=True,
    )
    return CrmConversion.objects.select_for_update().get(**key)


def _fields_of(conversion: CrmConversion) -> dict:
    stored = conversion.attribution
    attribution = {name: stored[name] for name in ATTRIBUTION_FIELDS if name in stored}
    return attribution | stored.get("_state", {})


def _conversion_set(conversion: CrmConversion, *, fields: dict, times: dict, first_ms: int,
                    last_ms: int) -> None:  # fmt: skip
    """Derive the conversion's columns from its merged fields, which only their times order."""
    deal = conversion.object_type == "deal"
    won = fields.get("dealstage") in WON_STAGES
    conversion.counts = not fields.get("deleted", False) and (won or not deal)
    conversion.revenue = Decimal(fields.get("amount", "0")) if deal else Decimal(0)
    conversion.currency = fields.get("currency", "")
    conversion.contact_id = fields.get("contact_id", "") if deal else conversion.object_id
    # A lead happened when its contact first appeared; a deal when it reached its stage (won).
    if deal:
        conversion.occurred_at = datetime_from_ms(
            times["dealstage"][0] if "dealstage" in times else last_ms
        )
    else:
        conversion.occurred_at = datetime_from_ms(first_ms)
    conversion.last_event_at = datetime_from_ms(last_ms)
    conversion.attribution = {
        **{name: fields[name] for name in ATTRIBUTION_FIELDS if name in fields},
        "_state": {name: value for name, value in fields.items() if name not in ATTRIBUTION_FIELDS},
        "_field_times": times,
    } | ({} if deal else {"_first_ms": first_ms})


def _contact_deals_follow(contact: CrmConversion) -> int:
    """Give the contact's deals that name no ad themselves its ad; return how many got one."""
    deals = CrmConversion.objects.select_for_update().filter(
        source=contact.source, object_type="deal", contact_id=contact.object_id
    )
    gained = 0
    for deal in deals.exclude(ad_id=contact.ad_id):
        if not AdKeys.of(deal.attribution).names_an_ad:
            gained += deal.ad_id is None
            deal.ad_id = contact.ad_id
            deal.save(update_fields=["ad", "updated_at"])
    return gained


# Attribution.


def _ad_match(conversion: CrmConversion) -> _Match:
    """The ad the conversion's attribution names: by ad id, else utm_content, else its contact."""
    keys = AdKeys.of(conversion.attribution)
    reasons = []
    if keys.ad_id:
        ad = _ad_by_id(keys.ad_id)
        if ad is not None:
            return _Match(ad, f"via {keys.ad_id_from}")
        reasons.append(f"no ad has id {keys.ad_id}")
    if keys.utm_content:
        ad = Ad.objects.select_related("campaign").filter(utm_content=keys.utm_content).first()
        expected = ad.campaign.utm_campaign if ad is not None else ""
        if ad is None:
            reasons.append(f"no ad has utm_content={keys.utm_content}")
        elif keys.utm_campaign and expected and keys.utm_campaign != expected:
            reasons.append(
                f"utm_content={keys.utm_content} is ad '{ad.name}' of campaign "
                f"'{ad.campaign.name}' (utm_campaign={expected}), but the event says "
                f"utm_campaign={keys.utm_campaign}"
            )
        else:
            where = keys.utm_content_from.removeprefix("utm_content")
            return _Match(ad, f"via utm_content={keys.utm_content}{where}")
    if reasons:
        return _Match(None, " and ".join(reasons))
    if conversion.object_type == "deal" and conversion.contact_id:
        return _contact_match(conversion)
    return _Match(None, "the event carries no slidecast_ad_id or utm_content")


def _ad_by_id(value: str) -> Ad | None:
    try:
        return Ad.objects.filter(id=UUID(value)).first()
    except ValueError:
        return None


def _contact_match(deal: CrmConversion) -> _Match:
    contact = (
        CrmConversion.objects.filter(
            source=deal.source, object_type="contact", object_id=deal.contact_id
        )
        .select_related("ad")
        .first()
    )
    if contact is not None and contact.ad is not None:
        return _Match(contact.ad, f"via its contact {deal.contact_id}")
    state = "has no ad either" if contact is not None else "is not known yet"
    return _Match(
        None,
        f"the deal carries no slidecast_ad_id or utm_content, and its contact "
        f"{deal.contact_id} {state}",
    )


def _detail(conversion: CrmConversion, match: _Match) -> str:
    """What the conversion is now, for the delivery log."""
    stage = conversion.attribution["_state"].get("dealstage")
    if conversion.attribution["_state"].get("deleted"):
        state = f"{conversion.object_type.capitalize()} deleted, not counted"
    elif conversion.kind == CrmConversion.Kind.LEAD:
        state = "Lead"
    elif conversion.counts:
        state = f"Purchase of {conversion.revenue:.2f} {conversion.currency}".rstrip()
    elif stage:
        state = f"Deal at stage {stage}, not counted until won"
    else:
        state = "Deal with no stage yet, not counted until won"
    if match.ad is None:
        return f"No ad matched: {match.how}. {state}, kept unmatched."
    if conversion.counts:
        return f"{state} for ad '{match.ad.name}' {match.how}."
    return f"{state} (ad '{match.ad.name}' {match.how})."
