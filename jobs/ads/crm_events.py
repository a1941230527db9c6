"""CRM events as a delivery carries them, read into the fields they set on a CRM object.

Two shapes are read: HubSpot's webhook events (with Slidecast's `properties` extension) and a
generic one for other CRMs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.ads.models import CrmEventItem

Outcome = CrmEventItem.Outcome

ATTRIBUTION_FIELDS = (
    "slidecast_ad_id", "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term",
    "landing_url",
)  # fmt: skip
DEAL_FIELDS = ("dealstage", "amount", "currency", "contact_id")
# CRM property names (HubSpot's, Slidecast's extension, the generic shape's) -> our field.
PROPERTY_FIELDS = {
    **{name: name for name in ATTRIBUTION_FIELDS + DEAL_FIELDS},
    "hs_analytics_first_url": "landing_url",
    "deal_currency_code": "currency",
    "associatedContactId": "contact_id",
    "ad_id": "slidecast_ad_id",
    "value": "amount",
}
# HubSpot actions on contacts and deals, and the fields each one sets besides its properties.
ACTIONS = {"creation": {}, "propertyChange": {}, "deletion": {"deleted": True},
           "restore": {"deleted": False}}  # fmt: skip
GENERIC_TYPES = {"lead": "contact", "purchase": "deal"}
# Below this an occurredAt is seconds rather than milliseconds (it would be before 1973).
_MIN_MS = 10**11
# A time far ahead would win over every real event to come, forever.
_MAX_AHEAD = timedelta(days=1)
_MAX_AMOUNT = Decimal("1e10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CrmEvent:
    """One event about a CRM object: the fields it sets, as of `at_ms` (ms since 1970)."""

    event_id: str
    object_type: str  # "contact" or "deal"
    object_id: str
    at_ms: int
    fields: dict

    @property
    def version(self) -> list:
        # Event ids break ties between events of the same millisecond, in any arrival order.
        return [self.at_ms, self.event_id]


@dataclass(frozen=True)
class CrmItem:
    """An item of a delivery as read: its event, or the outcome and reason it has none."""

    event_id: str | None
    type: str
    occurred_at: datetime | None
    event: CrmEvent | None = None
    outcome: str = ""
    detail: str = ""


@dataclass(frozen=True)
class AdKeys:
    """What names the object's ad: its own properties first, else its landing URL's query."""

    ad_id: str
    ad_id_from: str
    utm_content: str
    utm_content_from: str
    utm_campaign: str

    @property
    def names_an_ad(self) -> bool:
        return bool(self.ad_id or self.utm_content)

    @classmethod
    def of(cls, attribution: dict) -> AdKeys:
        try:
            query = parse_qs(urlsplit(attribution.get("landing_url", "")).query)
        except ValueError:
            query = {}

        def key(name: str, url_name: str) -> tuple[str, str]:
            if attribution.get(name):
                return attribution[name], name
            value = query.get(url_name, [""])[0].strip()
            return (value, f"{url_name} in the landing URL") if value else ("", "")

        return cls(
            *key("slidecast_ad_id", "sc_ad"), *key("utm_content", "utm_content"),
            key("utm_campaign", "utm_campaign")[0],
        )  # fmt: skip


class _Rejected(Exception):
    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome


def crm_item_read(raw) -> CrmItem:
    """Read one item of a delivery: the event it is, or why it is invalid or ignored."""
    if not isinstance(raw, dict):
        return CrmItem(
            None, "", None, outcome=Outcome.INVALID, detail="The event is not an object."
        )
    event_id = _event_id_of(raw)
    kind = raw.get("subscriptionType", raw.get("type"))
    kind = kind[:100] if isinstance(kind, str) else ""
    try:
        if event_id is None:
            raise _Rejected(Outcome.INVALID, "The event has no eventId.")
        if "subscriptionType" in raw:
            event = _hubspot_event(raw, event_id)
        elif "type" in raw:
            event = _generic_event(raw, event_id)
        else:
            raise _Rejected(Outcome.INVALID, "The event has no subscriptionType (or type).")
    except _Rejected as rejected:
        occurred_at = _occurred_at_or_none(raw)
        return CrmItem(event_id, kind, occurred_at, outcome=rejected.outcome, detail=str(rejected))
    return CrmItem(event_id, kind, datetime_from_ms(event.at_ms), event=event)


def _event_id_of(raw: dict) -> str | None:
    for key in ("eventId", "id", "event_id"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip() and len(value.strip()) <= 255:
            return value.strip()
    return None


def _hubspot_event(raw: dict, event_id: str) -> CrmEvent:
    kind = raw["subscriptionType"]
    object_type, _, action = kind.partition(".") if isinstance(kind, str) else ("", "", "")
    if object_type not in ("contact", "deal") or action not in ACTIONS:
        raise _Rejected(Outcome.IGNORED, f"{kind} events are not about conversions.")
    object_id = _object_id(raw.get("objectId"))
    at_ms = _at_ms(raw)
    properties = raw.get("properties") or {}
    if not isinstance(properties, dict):
        raise _Rejected(Outcome.INVALID, "The event's properties are not an object.")
    fields = _fields(object_type, properties)
    if action == "propertyChange":
        name = raw.get("propertyName")
        if isinstance(name, str):
            fields |= _fields(object_type, {name: raw.get("propertyValue")})
        if not fields:
            raise _Rejected(
                Outcome.IGNORED,
                f"A change of {name!r} on a {object_type} is not about conversions.",
            )
    return CrmEvent(event_id, object_type, object_id, at_ms, fields | ACTIONS[action])


def _generic_event(raw: dict, event_id: str) -> CrmEvent:
    kind = raw["type"]
    object_type = GENERIC_TYPES.get(kind) if isinstance(kind, str) else None
    if object_type is None:
        raise _Rejected(Outcome.IGNORED, f"Events of type {kind!r} are not about conversions.")
    object_id = _object_id(raw.get("object_id", event_id))
    at_ms = _at_ms(raw)
    utm = raw.get("utm") or {}
    if not isinstance(utm, dict):
        raise _Rejected(Outcome.INVALID, "The event's utm is not an object.")
    named = {key if key.startswith("utm_") else f"utm_{key}": value for key, value in utm.items()}
    fields = _fields(object_type, {**named, **raw})
    if object_type == "deal":
        # A generic purchase is a sale made: won from the start.
        fields |= {"dealstage": "won", "amount": fields.get("amount", "0.0000")}
    return CrmEvent(event_id, object_type, object_id, at_ms, fields)


def _fields(object_type: str, properties: dict) -> dict:
    """The fields the properties set, checked; unrelated properties are left out."""
    fields = {}
    for name, value in properties.items():
        field = PROPERTY_FIELDS.get(name) if isinstance(name, str) else None
        if field is None or (field in DEAL_FIELDS and object_type != "deal"):
            continue
        if isinstance(value, dict | list | bool):
            raise _Rejected(Outcome.INVALID, f"{name} must be text or a number.")
        text = "" if value is None else str(value).strip()
        if field == "amount":
            text = _amount(text)
        elif field == "currency":
            text = text.upper()
            if text and not (len(text) == 3 and text.isalpha()):
                raise _Rejected(Outcome.INVALID, f"{name} {text!r} is not an ISO 4217 code.")
        elif field == "dealstage":
            text = text.lower()
        fields[field] = text[:2000]
    return fields


def _amount(text: str) -> str:
    try:
        amount = Decimal(text or "0")
    except InvalidOperation:
        raise _Rejected(Outcome.INVALID, f"The amount {text!r} is not a number.") from None
    if not amount.is_finite() or not 0 <= amount < _MAX_AMOUNT:
        raise _Rejected(Outcome.INVALID, f"The amount {text!r} is not a sum of money.")
    return str(amount.quantize(Decimal("0.0001")))


def _object_id(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value.strip()) <= 100:
        return value.strip()
    raise _Rejected(Outcome.INVALID, "The event has no objectId (or object_id).")


def _at_ms(raw: dict) -> int:
    value = raw.get("occurredAt", raw.get("occurred_at"))
    if isinstance(value, int) and not isinstance(value, bool):
        at_ms = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        at_ms = int(value)
    elif isinstance(value, str) and (moment := _parse_datetime(value)) is not None:
        at_ms = ms_from_datetime(moment)
    else:
        raise _Rejected(Outcome.INVALID, f"The event's time {value!r} is not a time.")
    if at_ms < _MIN_MS:
        raise _Rejected(Outcome.INVALID, f"The event's time {value!r} is not in milliseconds.")
    if at_ms > ms_from_datetime(timezone.now() + _MAX_AHEAD):
        raise _Rejected(Outcome.INVALID, f"The event's time {value!r} is in the future.")
    return at_ms


def _parse_datetime(value: str) -> datetime | None:
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _occurred_at_or_none(raw: dict) -> datetime | None:
    try:
        return datetime_from_ms(_at_ms(raw))
    except _Rejected:
        return None


def datetime_from_ms(at_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=at_ms)


def ms_from_datetime(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)
