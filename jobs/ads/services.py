"""Campaigns and ads: create and change them, link them to the videos they run, refresh a
worn-out creative. Every budget or status change is written to the ads audit trail."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction

from jobs.ads import crm
from jobs.ads.models import Ad, AdsAuditEntry, Campaign, DeliveryStatus
from jobs.media.models import MediaJob
from jobs.narration import services as narration_services
from jobs.narration.models import Job
from jobs.personas.models import Persona

CAMPAIGN_FIELDS = (
    "name", "platform", "external_id", "status", "daily_budget", "currency", "starts_on",
    "ends_on", "utm_campaign",
)  # fmt: skip
AD_FIELDS = (
    "name", "external_id", "status", "daily_budget", "starts_on", "ends_on", "utm_content",
)  # fmt: skip
# Changes to these are decisions an operator may need to trace later.
_AUDITED = ("status", "daily_budget")
_AD_DUPLICATE = (
    "Another ad already uses that utm_content, or this campaign already has an ad with that "
    "platform id."
)
_UTM = re.compile(r"^[A-Za-z0-9._~-]{1,100}$")


def campaign_create(*, owner, actor=None, **fields) -> Campaign:
    """Create a campaign from the CAMPAIGN_FIELDS given; refuse bad values with their reason."""
    campaign = Campaign(owner=owner, **_only(fields, CAMPAIGN_FIELDS))
    _save_checked(campaign, duplicate="You already have a campaign with that platform id.")
    _audit(actor or owner, "campaign.created", campaign=campaign, details={"name": campaign.name})
    return campaign


def campaign_update(*, campaign: Campaign, actor, **fields) -> Campaign:
    changes = _apply(campaign, _only(fields, CAMPAIGN_FIELDS))
    _save_checked(campaign, duplicate="You already have a campaign with that platform id.")
    if changes:
        _audit(actor, "campaign.changed", campaign=campaign, details=changes)
    return campaign


def ad_create(
    *, campaign: Campaign, actor=None, narration_job: Job | None = None,
    media_job: MediaJob | None = None, **fields,
) -> Ad:  # fmt: skip
    """Create an ad in the campaign, linked to the video it runs (the owner's own jobs only)."""
    ad = Ad(campaign=campaign, **_only(fields, AD_FIELDS))
    if not ad.utm_content:
        ad.utm_content = "sc-" + secrets.token_hex(5)
    _link_video(ad, narration_job=narration_job, media_job=media_job)
    _save_checked(ad, duplicate=_AD_DUPLICATE)
    _audit(actor or campaign.owner, "ad.created", campaign=campaign, details={"ad": str(ad.id)})
    # CRM events may have named this ad before it was created here.
    crm.crm_rematch(ad=ad)
    return ad


def ad_update(
    *, ad: Ad, actor, narration_job: Job | None = None, media_job: MediaJob | None = None,
    **fields,
) -> Ad:  # fmt: skip
    changes = _apply(ad, _only(fields, AD_FIELDS))
    if narration_job is not None or media_job is not None:
        _link_video(ad, narration_job=narration_job, media_job=media_job)
    _save_checked(ad, duplicate=_AD_DUPLICATE)
    if changes:
        _audit(actor, "ad.changed", campaign=ad.campaign, details={"ad": str(ad.id), **changes})
    if "utm_content" in fields:
        crm.crm_rematch(ad=ad)
    return ad


def ad_refresh_creative(*, ad: Ad, actor, persona: Persona, resolution: str | None = None) -> Job:
    """Narrate the ad's deck again with another persona or format: a fresh creative to test.

    The new narration is an ordinary job of the ad's owner; the operator links it to a new ad
    (or this one) once it is made.
    """
    source = ad.narration_job or (ad.media_job.source_job if ad.media_job else None)
    if source is None:
        raise ValidationError(
            "This ad runs a video that was not narrated from a deck here, so there is no deck "
            "to narrate again: upload a new creative instead."
        )
    if not source.deck or source.files_deleted_at:
        raise ValidationError(
            "The deck of this ad's narration was removed by the retention cleanup; "
            "upload the deck again to make a new creative."
        )
    options = {"notes": File(source.notes_sidecar.open("rb"))} if source.notes_sidecar else {}
    with source.deck.open("rb") as deck:
        job = narration_services.job_create(
            owner=ad.campaign.owner,
            deck=File(deck, name=source.deck.name.rsplit("/", 1)[-1]),
            title=f"{source.title} — {persona.name}",
            persona=persona,
            resolution=resolution or source.resolution,
            padding_seconds=source.padding_seconds,
            empty_slide_seconds=source.empty_slide_seconds,
            **options,
        )
    _audit(
        actor, "ad.creative_refresh", campaign=ad.campaign,
        details={"ad": str(ad.id), "job": str(job.id), "persona": persona.name},
    )  # fmt: skip
    return job


def _link_video(ad: Ad, *, narration_job: Job | None, media_job: MediaJob | None) -> None:
    owner_id = ad.campaign.owner_id
    for job, noun in ((narration_job, "narration"), (media_job, "media job")):
        if job is not None and job.owner_id != owner_id:
            raise ValidationError({"video": f"No {noun} {job.id} among the campaign owner's."})
    if media_job is not None:
        ad.media_job = media_job
        ad.narration_job = narration_job or media_job.source_job
        ad.preset = _media_preset(media_job)
        video = media_job.artifacts.filter(kind="video").first()
        ad.video_duration_seconds = video.duration_seconds if video else None
    elif narration_job is not None:
        ad.narration_job, ad.media_job = narration_job, None
        ad.preset = narration_job.get_resolution_display()
        ad.video_duration_seconds = narration_job.duration_seconds
    if ad.narration_job is not None:
        ad.persona = ad.narration_job.persona
        if ad.video_duration_seconds is None:
            ad.video_duration_seconds = ad.narration_job.duration_seconds


def _media_preset(media_job: MediaJob) -> str:
    parameters = media_job.parameters or {}
    if media_job.operation != MediaJob.Operation.TRANSCODE:
        return media_job.get_operation_display()
    parts = [str(parameters.get("codec", "h264")).upper()]
    if parameters.get("resolution"):
        parts.append(str(parameters["resolution"]))
    if parameters.get("aspect") not in (None, "", "source"):
        parts.append(str(parameters["aspect"]))
    return " ".join(parts)


def _only(fields: Mapping, allowed: tuple[str, ...]) -> dict:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(unknown)}.")
    return dict(fields)


def _apply(instance, fields: Mapping) -> dict:
    """Set the fields; return the audited ones that changed as {field: [old, new]}."""
    changes = {}
    for name, value in fields.items():
        old = getattr(instance, name)
        setattr(instance, name, value)
        if name in _AUDITED and str(old) != str(value):
            changes[name] = [str(old), str(value)]
    return changes


def _save_checked(instance, *, duplicate: str) -> None:
    if isinstance(instance, Campaign):
        instance.currency = (instance.currency or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", instance.currency):
            raise ValidationError({"currency": "The currency must be a 3-letter ISO 4217 code."})
        if instance.utm_campaign and not _UTM.match(instance.utm_campaign):
            raise ValidationError({"utm_campaign": _utm_message("utm_campaign")})
    if isinstance(instance, Ad) and not _UTM.match(instance.utm_content):
        raise ValidationError({"utm_content": _utm_message("utm_content")})
    if instance.daily_budget is not None and Decimal(instance.daily_budget) < 0:
        raise ValidationError({"daily_budget": "The daily budget must not be negative."})
    if instance.starts_on and instance.ends_on and instance.ends_on < instance.starts_on:
        raise ValidationError({"ends_on": "The end date is before the start date."})
    if instance.status not in DeliveryStatus.values:
        raise ValidationError({"status": f"The status must be one of {DeliveryStatus.values}."})
    instance.full_clean(exclude=["owner", "campaign", "utm_content"], validate_unique=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise ValidationError(duplicate) from exc


def _utm_message(field: str) -> str:
    return f"{field} may hold letters, digits and . _ ~ - only (at most 100)."


def _audit(actor, action: str, *, campaign: Campaign | None = None, details: dict) -> None:
    AdsAuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        campaign=campaign,
        details=details,
    )
