"""Reads about CRM conversions for the operator: what no ad matched, and why."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.ads.models import CrmConversion, CrmEventItem


def crm_unmatched_conversions() -> QuerySet[CrmConversion]:
    """Leads and deals no ad matched (deleted ones left out), the latest first."""
    deleted = {"_state": {"deleted": True}}
    return CrmConversion.objects.filter(ad__isnull=True).exclude(attribution__contains=deleted)


def crm_unmatched_items() -> QuerySet[CrmEventItem]:
    """Logged events that matched no ad, whose conversion has none still, the latest first.

    Each item's detail says why nothing matched and its payload what the event carried.
    """
    return CrmEventItem.objects.filter(
        outcome=CrmEventItem.Outcome.UNMATCHED, conversion__ad__isnull=True
    ).select_related("conversion", "inbound_event")
