"""The ads API's request and response schemas: what /api/openapi.json documents for ads."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from django.urls import reverse
from ninja import Field, Schema
from pydantic import PlainSerializer, model_validator

from jobs.ads import snapshots
from jobs.ads.models import Ad, BudgetSuggestion
from jobs.api.fields import Text
from jobs.api.jobs import Resolution

Platform = Literal["meta", "google", "youtube", "tiktok", "linkedin", "other"]
DeliveryStatus = Literal["active", "paused", "ended"]
FatigueState = Literal["unchecked", "healthy", "fatigued", "insufficient_data", "not_active"]


def _decimal_text(places: int):
    step = Decimal(1).scaleb(-places)
    return PlainSerializer(lambda value: str(Decimal(value).quantize(step)), return_type=str)


# Budgets are stored with 2 decimals; spend and revenue with 4 (platforms report fractions).
Budget = Annotated[
    Decimal, _decimal_text(2), Field(description='Decimal string, 2 places ("150.00").')
]
Amount = Annotated[
    Decimal, _decimal_text(4), Field(description='Decimal string, 4 places ("12.3400").')
]
BudgetIn = Annotated[
    Decimal,
    Field(
        ge=0,
        max_digits=14,
        decimal_places=2,
        description='A decimal string ("150.00") or a number; 2 places at most.',
    ),
]


class CampaignOut(Schema):
    id: UUID
    name: str
    platform: Platform
    external_id: str = Field(description="The campaign's id on the ad platform, or empty.")
    status: DeliveryStatus
    daily_budget: Budget
    currency: str = Field(description="ISO 4217 code.")
    starts_on: date | None
    ends_on: date | None
    utm_campaign: str = Field(description="The utm_campaign value its links carry, or empty.")
    ad_count: int
    winner_count: int = Field(description="Ads marked as winners.")
    fatigued_count: int = Field(description="Ads whose results are wearing out.")
    created_at: datetime
    updated_at: datetime


class CampaignPage(Schema):
    items: list[CampaignOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class CampaignIn(Schema):
    name: Text = Field(..., min_length=1, max_length=200)
    platform: Platform = "meta"
    external_id: Text = Field("", max_length=100, description="Unique per platform among yours.")
    status: DeliveryStatus = "active"
    daily_budget: BudgetIn = Decimal("0")
    currency: Text = Field("USD", min_length=3, max_length=3, description="ISO 4217 code.")
    starts_on: date | None = None
    ends_on: date | None = None
    utm_campaign: Text = Field("", max_length=100, description="Letters, digits, . _ ~ - only.")


# A default of None is never validated, so a field left out stays unset while an explicit
# null is refused (except for the dates, which may be empty).
class CampaignPatch(Schema):
    """The fields to change; those left out keep their values (only dates may be null)."""

    name: Text = Field(None, min_length=1, max_length=200)
    platform: Platform = None
    external_id: Text = Field(None, max_length=100)
    status: DeliveryStatus = None
    daily_budget: BudgetIn = None
    currency: Text = Field(None, min_length=3, max_length=3)
    starts_on: date | None = None
    ends_on: date | None = None
    utm_campaign: Text = Field(None, max_length=100)


class PageFilters(Schema):
    limit: int = Field(20, ge=1, le=100)
    cursor: Text | None = Field(None, max_length=200)


class AdOut(Schema):
    id: UUID
    campaign_id: UUID
    campaign_name: str
    name: str
    external_id: str = Field(description="The ad's id on the ad platform, or empty.")
    status: DeliveryStatus
    daily_budget: Budget
    currency: str = Field(description="The campaign's currency.")
    starts_on: date | None
    ends_on: date | None
    utm_content: str = Field(description="Its links' utm_content: how CRM conversions find it.")
    narration_job_id: UUID | None = Field(description="The narration whose video it runs.")
    narration_job_url: str | None
    media_job_id: UUID | None = Field(description="The media job (a transcode) it runs, if any.")
    media_job_url: str | None
    persona_id: int | None
    persona_name: str | None = Field(description="The persona that narrates the video.")
    preset: str = Field(description='The video\'s format, e.g. "VP9 1280x720 1:1".')
    video_duration_seconds: float | None
    fatigue: FatigueState = Field(description="Whether its CTR or conversion rate wears out.")
    fatigue_reason: str
    fatigue_checked_at: datetime | None
    is_winner: bool
    winner_since: datetime | None
    winner_metric: str = Field(
        description='The rate it wins on ("ctr", "conversions_per_impression").'
    )
    winner_probability: float | None = Field(description="P(it beats the campaign median).")
    winner_lift: float | None = Field(description="Its rate / the campaign median − 1.")
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_campaign_name(ad: Ad) -> str:
        return ad.campaign.name

    @staticmethod
    def resolve_currency(ad: Ad) -> str:
        return ad.campaign.currency

    @staticmethod
    def resolve_narration_job_url(ad: Ad) -> str | None:
        return reverse("api:get_job", args=[ad.narration_job_id]) if ad.narration_job_id else None

    @staticmethod
    def resolve_media_job_url(ad: Ad) -> str | None:
        return reverse("api:get_media_job", args=[ad.media_job_id]) if ad.media_job_id else None

    @staticmethod
    def resolve_persona_name(ad: Ad) -> str | None:
        return ad.persona.name if ad.persona_id else None


class AdPage(Schema):
    items: list[AdOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class AdFilters(PageFilters):
    campaign_id: UUID | None = None
    status: DeliveryStatus | None = None
    winner: bool | None = Field(None, description="Winners only (true) or the others (false).")
    fatigue: FatigueState | None = None


class AdIn(Schema):
    campaign_id: UUID = Field(description="One of your campaigns.")
    name: Text = Field(..., min_length=1, max_length=200)
    external_id: Text = Field("", max_length=100, description="The id on the ad platform.")
    status: DeliveryStatus = "active"
    daily_budget: BudgetIn = Decimal("0")
    starts_on: date | None = None
    ends_on: date | None = None
    utm_content: Text | None = Field(None, max_length=100, description="Unique; made up if none.")
    narration_job_id: UUID | None = Field(None, description="One of your narrations: its video.")
    media_job_id: UUID | None = Field(None, description="One of your media jobs: its video.")


class AdPatch(Schema):
    """The fields to change; those left out keep their values (only dates may be null)."""

    name: Text = Field(None, min_length=1, max_length=200)
    external_id: Text = Field(None, max_length=100)
    status: DeliveryStatus = None
    daily_budget: BudgetIn = None
    starts_on: date | None = None
    ends_on: date | None = None
    utm_content: Text = Field(None, min_length=1, max_length=100)
    narration_job_id: UUID = None
    media_job_id: UUID = None


class SnapshotsIn(Schema):
    rows: list[dict[Text, Text | int | float | None]] = Field(
        description="One object per ad and day (or hour). Keys: "
        + ", ".join(f"`{name}`" for name in snapshots.SNAPSHOT_FIELDS)
        + "; values strings or numbers. `ad_id` or `ad_external_id` names the ad, `date` is "
        "YYYY-MM-DD, `hour` 0–23 or left out for the whole day."
    )


class RowErrorOut(Schema):
    row: int = Field(description="JSON: its place in `rows` from 1. CSV: its line (header 1).")
    ad: str = Field(description="The ad the row named, as given; empty if none.")
    reason: str


class IngestReportOut(Schema):
    received: int = Field(description="Rows in the request.")
    created: int = Field(description="Periods stored that the ad had no snapshot for.")
    updated: int = Field(description="Periods whose stored snapshot was replaced.")
    accepted: int = Field(description="Rows not refused.")
    errors: list[RowErrorOut] = Field(description="Each refused row and why; the rest is stored.")


class DayOut(Schema):
    day: date
    impressions: int
    reach: int | None = Field(description="Unique people reached, when the platform says.")
    clicks: int
    spend: Amount
    video_views: int
    conversions: int = Field(description="The larger of the platform's and the CRM's count.")
    revenue: Amount
    ctr: float | None = Field(description="clicks / impressions.")
    conversion_rate: float | None = Field(description="conversions / clicks.")
    frequency: float | None = Field(description="impressions / reach.")


class MetricsOut(Schema):
    ad_id: UUID
    currency: str
    days: int = Field(description="How many days back the series reaches.")
    series: list[DayOut] = Field(description="Oldest first; days without results left out.")


class FindingEvidence(Schema):
    baseline_rate: float = Field(description="The rate over the ad's first days.")
    recent_rate: float = Field(description="The rate over its latest days.")
    drop: float = Field(description="1 − recent / baseline.")
    slope_per_day: float = Field(description="Relative change of the rate per day, lately.")
    cusum: float = Field(description="The CUSUM statistic that crossed its threshold.")
    alarm_day: date = Field(description="The first day the CUSUM crossed its threshold.")
    days_observed: int
    frequency_baseline: float | None
    frequency_recent: float | None = Field(description="Rising: the same people see it often.")


class FindingOut(Schema):
    id: int
    metric: Literal["ctr", "conversion_rate"]
    severity: Literal["warning", "high", "critical"]
    is_open: bool = Field(description="False once the rate recovered (see resolved_at).")
    first_detected_at: datetime
    last_detected_at: datetime
    resolved_at: datetime | None
    evidence: FindingEvidence
    recommendation: str

    @staticmethod
    def resolve_evidence(finding) -> dict:
        return {name: getattr(finding, name) for name in FindingEvidence.model_fields}


class FatigueOut(Schema):
    ad_id: UUID
    fatigue: FatigueState
    fatigue_reason: str
    fatigue_checked_at: datetime | None
    findings: list[FindingOut] = Field(description="Newest first.")
    summary: dict[str, Any] | None = Field(None, description="A check: what it counted.")


class RefreshIn(Schema):
    persona_id: int = Field(..., ge=1, description="A persona you may narrate with.")
    resolution: Resolution | None = Field(None, description="By default the ad video's size.")


class RefreshOut(Schema):
    job_id: UUID = Field(description="The new narration job: follow it like any other.")
    job_url: str
    ad_id: UUID


class WinnerSearchIn(Schema):
    text: Text | None = Field(None, min_length=1, max_length=5000, description="Script words.")
    job_id: UUID | None = Field(None, description="One of your narrations to find ads like.")
    limit: int = Field(10, ge=1, le=50)

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.text is None) == (self.job_id is None):
            raise ValueError("send exactly one of text and job_id")
        return self


class WinnerMatchOut(Schema):
    ad_id: UUID
    ad_name: str
    campaign_id: UUID
    campaign_name: str
    similarity: float = Field(description="Cosine similarity of the scripts, 1 = the same.")
    metric: str
    probability: float | None
    lift: float | None
    persona: str
    preset: str
    duration_seconds: float | None
    results: dict[str, Any] = Field(description="Its results when it was indexed.")
    snippet: str = Field(description="The start of its script.")


class SuggestionLineOut(Schema):
    ad_id: UUID
    ad_name: str
    current_budget: Budget
    suggested_budget: Budget
    share: float = Field(description="Its share of the campaign's budget, 0–1.")
    probability_best: float | None = Field(description="P(the ad is the best).")
    cost_per_result: Amount | None
    roas: float | None = Field(description="Revenue / spend.")
    reason: str

    @staticmethod
    def resolve_ad_name(line) -> str:
        return line.ad.name


class BudgetSuggestionOut(Schema):
    id: UUID
    campaign_id: UUID
    status: Literal["pending", "accepted", "rejected", "superseded"]
    total_budget: Budget
    currency: str
    method: str = Field(description="How the split was made.")
    metric: str
    window_days: int = Field(description="Days of results the split is based on.")
    summary: str
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None = Field(description="The username of who decided.")
    decision_note: str
    lines: list[SuggestionLineOut]

    @staticmethod
    def resolve_decided_by(suggestion: BudgetSuggestion) -> str | None:
        return suggestion.decided_by.get_username() if suggestion.decided_by else None


class DecisionIn(Schema):
    note: Text = Field("", max_length=500, description="Why, for the audit trail.")
