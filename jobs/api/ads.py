"""The ads endpoints: campaigns and ads, their daily results, fatigue, winners and budgets.

Every read and write is limited to the caller's own campaigns and ads: someone else's id
answers 404, exactly like an id that does not exist. Money is a decimal string.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from django.urls import reverse
from ninja import Body, File, Query, Router, Status
from ninja.files import UploadedFile

from jobs.ads import budgets, fatigue, selectors, services, snapshots, winners
from jobs.ads.models import Ad, BudgetSuggestion, Campaign
from jobs.api.ads_schemas import (
    AdFilters,
    AdIn,
    AdOut,
    AdPage,
    AdPatch,
    BudgetSuggestionOut,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    DecisionIn,
    FatigueOut,
    IngestReportOut,
    MetricsOut,
    PageFilters,
    RefreshIn,
    RefreshOut,
    SnapshotsIn,
    WinnerMatchOut,
    WinnerSearchIn,
)
from jobs.api.errors import ERRORS
from jobs.api.jobs import _decode_cursor, _encode_cursor
from jobs.errors import RequestRefused
from jobs.media.selectors import media_job_find_for
from jobs.narration.selectors import job_find_for
from jobs.personas.selectors import persona_get_for

ads_router = Router(tags=["ads"])


def _page(items: QuerySet, filters: PageFilters) -> dict:
    """Newest first, keyset-paged on (created_at, id) like the jobs list."""
    if filters.cursor:
        created, last_id = _decode_cursor(filters.cursor)
        items = items.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
    page = list(items.order_by("-created_at", "-id")[: filters.limit + 1])
    shown, more = page[: filters.limit], len(page) > filters.limit
    return {"items": shown, "next_cursor": _encode_cursor(shown[-1]) if more else None}


def _unknown(field: str, message: str) -> RequestRefused:
    return RequestRefused(422, "validation_error", message, [{"field": field, "message": message}])


def _own_campaign(request, campaign_id: UUID) -> Campaign:
    campaign = selectors.campaign_list_for(user=request.auth).filter(id=campaign_id).first()
    if campaign is None:
        raise RequestRefused(404, "not_found", f"No campaign {campaign_id} among yours.")
    return campaign


def _own_ad(request, ad_id: UUID) -> Ad:
    ad = selectors.ad_find_for(user=request.auth, ad_id=ad_id)
    if ad is None:
        raise RequestRefused(404, "not_found", f"No ad {ad_id} among yours.")
    return ad


def _videos(request, data: AdIn | AdPatch) -> dict:
    """The narration and media jobs the body names, the caller's own only."""
    videos = {}
    if data.narration_job_id is not None:
        videos["narration_job"] = job_find_for(user=request.auth, job_id=data.narration_job_id)
        if videos["narration_job"] is None:
            message = f"No narration job {data.narration_job_id} among yours."
            raise _unknown("narration_job_id", message)
    if data.media_job_id is not None:
        videos["media_job"] = media_job_find_for(user=request.auth, media_job_id=data.media_job_id)
        if videos["media_job"] is None:
            raise _unknown("media_job_id", f"No media job {data.media_job_id} among yours.")
    return videos


@ads_router.get("/campaigns", response={200: CampaignPage, **ERRORS})
def list_campaigns(request, filters: Query[PageFilters]):
    """Your campaigns, newest first, a page at a time (follow `next_cursor`)."""
    return _page(selectors.campaign_list_for(user=request.auth), filters)


@ads_router.post("/campaigns", response={201: CampaignOut, **ERRORS})
def create_campaign(request, data: CampaignIn):
    campaign = services.campaign_create(owner=request.auth, actor=request.auth, **data.model_dump())
    return Status(201, _own_campaign(request, campaign.id))


@ads_router.get("/campaigns/{uuid:campaign_id}", response={200: CampaignOut, **ERRORS})
def get_campaign(request, campaign_id: UUID):
    return _own_campaign(request, campaign_id)


@ads_router.patch("/campaigns/{uuid:campaign_id}", response={200: CampaignOut, **ERRORS})
def update_campaign(request, campaign_id: UUID, data: CampaignPatch):
    """Change the fields sent; budget and status changes go to the ads audit trail."""
    campaign = _own_campaign(request, campaign_id)
    services.campaign_update(
        campaign=campaign, actor=request.auth, **data.model_dump(exclude_unset=True)
    )
    return _own_campaign(request, campaign_id)


@ads_router.get("/ads", response={200: AdPage, **ERRORS})
def list_ads(request, filters: Query[AdFilters]):
    """Your ads, newest first, a page at a time (follow `next_cursor`)."""
    ads = selectors.ad_list_for(user=request.auth)
    wanted = {"campaign_id": filters.campaign_id, "status": filters.status,
              "is_winner": filters.winner, "fatigue": filters.fatigue}  # fmt: skip
    return _page(ads.filter(**{k: v for k, v in wanted.items() if v is not None}), filters)


@ads_router.post("/ads", response={201: AdOut, **ERRORS})
def create_ad(request, data: AdIn):
    """Create an ad in one of your campaigns, running one of your videos (422 otherwise):
    `narration_job_id` or `media_job_id`. The ad records its persona, format and duration."""
    campaign = selectors.campaign_find_for(user=request.auth, campaign_id=data.campaign_id)
    if campaign is None:
        raise _unknown("campaign_id", f"No campaign {data.campaign_id} among yours.")
    fields = data.model_dump(exclude={"campaign_id", "narration_job_id", "media_job_id"})
    fields["utm_content"] = fields["utm_content"] or ""
    ad = services.ad_create(
        campaign=campaign, actor=request.auth, **_videos(request, data), **fields
    )
    return Status(201, _own_ad(request, ad.id))


@ads_router.get("/ads/{uuid:ad_id}", response={200: AdOut, **ERRORS})
def get_ad(request, ad_id: UUID):
    return _own_ad(request, ad_id)


@ads_router.patch("/ads/{uuid:ad_id}", response={200: AdOut, **ERRORS})
def update_ad(request, ad_id: UUID, data: AdPatch):
    """Change the fields sent; a new `narration_job_id` or `media_job_id` links another video."""
    fields = data.model_dump(exclude_unset=True, exclude={"narration_job_id", "media_job_id"})
    ad = _own_ad(request, ad_id)
    services.ad_update(ad=ad, actor=request.auth, **_videos(request, data), **fields)
    return _own_ad(request, ad_id)


@ads_router.get("/ads/{uuid:ad_id}/metrics", response={200: MetricsOut, **ERRORS})
def ad_metrics(request, ad_id: UUID, days: int = Query(selectors.SERIES_DAYS, ge=1, le=730)):
    """The ad's results per day over the last `days` days, oldest first, with its rates."""
    ad = _own_ad(request, ad_id)
    counts = ("impressions", "clicks", "video_views", "conversions")
    series = [
        {**{name: round(getattr(day, name)) for name in counts}, "day": day.day,
         "reach": None if day.reach is None else round(day.reach), "spend": day.spend,
         "revenue": day.revenue, "ctr": day.ctr, "conversion_rate": day.conversion_rate,
         "frequency": day.frequency}
        for day in selectors.ad_daily_series(ad=ad, days=days)
    ]  # fmt: skip
    return {"ad_id": ad.id, "currency": ad.campaign.currency, "days": days, "series": series}


def _fatigue(ad: Ad, *, include_resolved: bool, summary: dict | None = None) -> dict:
    findings = selectors.fatigue_findings_for(ad=ad, include_resolved=include_resolved)
    return {"ad_id": ad.id, "fatigue": ad.fatigue, "fatigue_reason": ad.fatigue_reason,
            "fatigue_checked_at": ad.fatigue_checked_at, "findings": findings,
            "summary": summary}  # fmt: skip


@ads_router.get("/ads/{uuid:ad_id}/fatigue", response={200: FatigueOut, **ERRORS})
def ad_fatigue(request, ad_id: UUID):
    """The ad's fatigue state and every finding, open and resolved, with its evidence and what
    to do. The check runs every 6 hours; POST …/fatigue/check runs it now."""
    return _fatigue(_own_ad(request, ad_id), include_resolved=True)


@ads_router.post("/ads/{uuid:ad_id}/fatigue/check", response={200: FatigueOut, **ERRORS})
def check_ad_fatigue(request, ad_id: UUID):
    """Check the ad for fatigue now: its state, its open findings and what the check counted."""
    summary = fatigue.fatigue_pass(ad_ids=[_own_ad(request, ad_id).id])
    return _fatigue(_own_ad(request, ad_id), include_resolved=False, summary=summary)


@ads_router.post("/ads/{uuid:ad_id}/refresh", response={201: RefreshOut, **ERRORS})
def refresh_ad(request, ad_id: UUID, data: RefreshIn):
    """Narrate the ad's deck again with another persona (or size): a fresh creative to test.
    The answer is the new narration job; link its video to an ad once it is made."""
    ad = _own_ad(request, ad_id)
    persona = persona_get_for(user=request.auth, persona_id=data.persona_id)
    if persona is None:
        raise _unknown("persona_id", f"There is no persona {data.persona_id}.")
    job = services.ad_refresh_creative(
        ad=ad, actor=request.auth, persona=persona, resolution=data.resolution
    )
    url = reverse("api:get_job", args=[job.id])
    return Status(201, {"job_id": job.id, "job_url": url, "ad_id": ad.id})


_PARTIAL = """
Each row is checked and stored on its own: the answer is 200 with the counts and, in `errors`,
each refused row and why, **even when some rows were refused**: fix those and send them again.
A row for a period already stored replaces it, so sending rows again is harmless (they count
as `updated`). Only your own ads are matched."""


@ads_router.post(
    "/snapshots", response={200: IngestReportOut, **ERRORS}, summary="Store ads' results",
    description=f"""Store the ads' results per day or hour, as the platforms report them.
{_PARTIAL}

At most {settings.ADS["INGEST_MAX_ROWS"]:,} rows (`SLIDECAST_ADS_INGEST_MAX_ROWS`) and
{settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 2**20} MB a request: more is a 413. Send it in parts,
or as a CSV file (POST /api/ads/snapshots/csv).""",
)  # fmt: skip
def ingest_snapshots(request, data: SnapshotsIn):
    limit = settings.ADS["INGEST_MAX_ROWS"]
    if len(data.rows) > limit:
        raise RequestRefused(
            413, "too_many_rows",
            f"The request has {len(data.rows):,} rows; at most {limit:,} are taken at once. "
            "Send them in several requests, or as a CSV file (POST /api/ads/snapshots/csv).",
        )  # fmt: skip
    return snapshots.snapshots_ingest(owner=request.auth, rows=data.rows)


@ads_router.post(
    "/snapshots/csv", response={200: IngestReportOut, **ERRORS},
    summary="Store ads' results from a CSV file",
    description=f"""Store the ads' results from a CSV file in the form field `file`.

The header names the columns ({", ".join(snapshots.SNAPSHOT_FIELDS)}, or a platform
export's names). A file that cannot be used as a whole (not UTF-8 CSV, no header, no ad
column, too large) is a 422 with the reason; `errors[].row` is a line of the file.
{_PARTIAL}""",
)  # fmt: skip
def ingest_snapshots_csv(request, file: File[UploadedFile]):
    try:
        return snapshots.snapshots_ingest_csv(owner=request.auth, upload=file)
    except DjangoValidationError as exc:
        details = [{"field": "file", "message": message} for message in exc.messages]
        raise RequestRefused(422, "invalid_file", " ".join(exc.messages), details) from exc


@ads_router.get("/winners", response={200: list[AdOut], **ERRORS})
def list_winners(request, limit: int = Query(50, ge=1, le=200)):
    """Your winning ads, most certain first. Winners are judged again every 12 hours."""
    return selectors.winners_list_for(user=request.auth)[:limit]


@ads_router.post("/winners/search", response={200: list[WinnerMatchOut], **ERRORS})
def search_winners(request, data: WinnerSearchIn):
    """Your winning ads whose scripts are most like `text` or like one of your narrations'
    (`job_id`; send exactly one), most similar first."""
    job = None
    if data.job_id is not None:
        job = job_find_for(user=request.auth, job_id=data.job_id)
        if job is None:
            raise _unknown("job_id", f"No narration job {data.job_id} among yours.")
    return winners.winners_search(owner=request.auth, text=data.text or "", job=job,
                                  limit=data.limit)  # fmt: skip


@ads_router.get(
    "/campaigns/{uuid:campaign_id}/budget-suggestion",
    response={200: BudgetSuggestionOut, **ERRORS},
)
def get_budget_suggestion(request, campaign_id: UUID):
    """The campaign's pending budget suggestion, else the latest one decided. Suggestions are
    made daily from the ads' results."""
    suggestion = selectors.budget_suggestion_current_for(
        campaign=_own_campaign(request, campaign_id)
    )
    if suggestion is None:
        raise RequestRefused(
            404, "not_ready",
            f"Campaign {campaign_id} has no budget suggestion yet: one is made daily once its "
            "ads have enough results to compare.",
        )  # fmt: skip
    return suggestion


def _decide(request, suggestion_id: UUID, data: DecisionIn | None, decide) -> BudgetSuggestion:
    try:
        suggestion = selectors.budget_suggestion_get_for(
            user=request.auth, suggestion_id=suggestion_id
        )
    except Http404 as exc:
        message = f"No budget suggestion {suggestion_id} among yours."
        raise RequestRefused(404, "not_found", message) from exc
    try:
        return decide(suggestion=suggestion, actor=request.auth, note=data.note if data else "")
    except DjangoValidationError as exc:
        raise RequestRefused(409, "not_pending", " ".join(exc.messages)) from exc


@ads_router.post(
    "/budget-suggestions/{uuid:suggestion_id}/accept",
    response={200: BudgetSuggestionOut, **ERRORS},
)
def accept_budget_suggestion(request, suggestion_id: UUID, data: Body[DecisionIn] = None):
    """Accept a pending suggestion: each ad's daily budget becomes the suggested one (in
    Slidecast; carry it over to the platform). The body is optional. Not pending: 409."""
    return _decide(request, suggestion_id, data, budgets.budget_suggestion_accept)


@ads_router.post(
    "/budget-suggestions/{uuid:suggestion_id}/reject",
    response={200: BudgetSuggestionOut, **ERRORS},
)
def reject_budget_suggestion(request, suggestion_id: UUID, data: Body[DecisionIn] = None):
    """Reject a pending suggestion; budgets stay. The body is optional. Not pending: 409."""
    return _decide(request, suggestion_id, data, budgets.budget_suggestion_reject)
