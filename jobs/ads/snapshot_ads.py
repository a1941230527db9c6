"""The ad a snapshot row names, by Slidecast's ad id or the platform's external id."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import connection

from jobs.ads.models import Ad, Campaign
from jobs.ads.snapshot_values import Refused, shown

# Ad.external_id's length: a reference is cut to it in reports, and a longer external id is
# kept one character longer so that it can match no stored ad.
AD_REF_CHARS = 100


@dataclass(frozen=True)
class ResolvedAd:
    index: int  # small and dense: packs into the integer keys of periods
    id: str
    external_id: str
    campaign: str


class AdDirectory:
    """The owner's ads by id and external id, looked up a chunk at a time and kept for the call."""

    def __init__(self, *, owner) -> None:
        self.owner = owner
        self.by_id: dict[object, ResolvedAd | str | None] = {}
        self.by_external: dict[str, list[ResolvedAd]] = {}
        self.indexes: dict[str, int] = {}

    def load(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Fetch the ads the rows name that earlier chunks did not, in at most two queries."""
        ids: dict[object, str] = {}
        externals: set[str] = set()
        for row in rows:
            raw_id = row.get("ad_id")
            if raw_id not in (None, "") and _hashable(raw_id) and raw_id not in self.by_id:
                ids[raw_id] = ""
            external = _external_text(row.get("ad_external_id"))
            if external and external not in self.by_external:
                externals.add(external)
        for raw_id in ids:
            try:
                ids[raw_id] = str(uuid.UUID(str(raw_id).strip()))
            except (ValueError, AttributeError):
                self.by_id[raw_id] = (
                    f"ad_id {shown(raw_id)} is not a Slidecast ad id (a UUID); "
                    "give the platform's id in ad_external_id."
                )
        wanted = {value for value in ids.values() if value}
        found = {ad.id: ad for ad in self.ads_fetch("ad.id = ANY(%s::uuid[])", list(wanted))}
        for raw_id, ad_id in ids.items():
            if ad_id:
                self.by_id[raw_id] = found.get(ad_id)
        for external in externals:
            self.by_external[external] = []
        for ad in self.ads_fetch("ad.external_id = ANY(%s::text[])", list(externals)):
            self.by_external[ad.external_id].append(ad)

    def ads_fetch(self, condition: str, values: list) -> list[ResolvedAd]:
        if not values:
            return []
        sql = f"""
            SELECT ad.id::text, ad.external_id, campaign.name
            FROM {Ad._meta.db_table} ad
            JOIN {Campaign._meta.db_table} campaign ON campaign.id = ad.campaign_id
            WHERE campaign.owner_id = %s AND {condition}
            ORDER BY campaign.name, ad.id
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.owner.pk, values])
            return [self.ad_make(*found) for found in cursor.fetchall()]

    def ad_make(self, ad_id: str, external_id: str, campaign: str) -> ResolvedAd:
        index = self.indexes.setdefault(ad_id, len(self.indexes))
        return ResolvedAd(index=index, id=ad_id, external_id=external_id, campaign=campaign)

    def resolve(self, raw_id: object, raw_external: object) -> ResolvedAd:
        """The ad a row names; an ad of another owner is unknown, exactly like a missing one."""
        external = _external_text(raw_external)
        if raw_id not in (None, ""):
            ad = self.by_id.get(raw_id) if _hashable(raw_id) else "ad_id must be text."
            if isinstance(ad, str):
                raise Refused(ad)
            if ad is None:
                raise Refused(_unknown_reason(raw_id))
            if external and external != ad.external_id:
                raise Refused(
                    f"ad_id {shown(raw_id)} and ad_external_id {shown(external)} "
                    "name different ads; give one of them."
                )
            return ad
        if not external:
            raise Refused("The row names no ad: give ad_id or ad_external_id.")
        ads = self.by_external.get(external, [])
        if len(ads) > 1:
            campaigns = ", ".join(sorted({f"'{ad.campaign}'" for ad in ads}))
            raise Refused(
                f"ad_external_id {shown(external)} is used by {len(ads)} of your ads "
                f"(campaigns {campaigns}): name the ad by ad_id instead."
            )
        if not ads:
            raise Refused(_unknown_reason(external))
        return ads[0]


def ad_ref(row: Mapping[str, object]) -> str:
    """The ad reference a row gives, as the report shows it; "" if none."""
    for field in ("ad_id", "ad_external_id"):
        value = row.get(field)
        if value not in (None, ""):
            return str(value)[:AD_REF_CHARS]
    return ""


def _unknown_reason(ref: object) -> str:
    return f"Unknown ad {shown(ref)}: none of your ads has that id or external id."


def _external_text(value: object) -> str:
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value)
    return value.strip()[: AD_REF_CHARS + 1] if isinstance(value, str) else ""


def _hashable(value: object) -> bool:
    return isinstance(value, (str, int, uuid.UUID))
