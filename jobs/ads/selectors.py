"""Reads for the ads pages, API and admin: a user's campaigns and ads, their daily series,
spend and results per ad, findings, winners and suggestions. A user sees only their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from jobs.ads.daily import daily_metrics_cte
from jobs.ads.models import (
    Ad,
    AnalysisRun,
    BudgetSuggestion,
    Campaign,
    FatigueFinding,
)
from jobs.ads.selectors_crm import crm_unmatched_items

SERIES_DAYS = 90


@dataclass(frozen=True)
class DayMetrics:
    day: date
    impressions: float
    reach: float | None
    clicks: float
    spend: float
    video_views: float
    conversions: float
    revenue: float

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def conversion_rate(self) -> float | None:
        return self.conversions / self.clicks if self.clicks else None

    @property
    def frequency(self) -> float | None:
        return self.impressions / self.reach if self.reach else None


@dataclass(frozen=True)
class AdTotals:
    ad_id: UUID
    name: str
    impressions: float
    clicks: float
    spend: float
    conversions: float
    revenue: float

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None

    @property
    def cost_per_conversion(self) -> float | None:
        return self.spend / self.conversions if self.conversions else None

    @property
    def roas(self) -> float | None:
        return self.revenue / self.spend if self.spend else None


def campaign_list_for(*, user) -> QuerySet[Campaign]:
    return Campaign.objects.filter(owner=user).annotate(
        ad_count=Count("ads", distinct=True),
        winner_count=Count("ads", filter=Q(ads__is_winner=True), distinct=True),
        fatigued_count=Count("ads", filter=Q(ads__fatigue=Ad.Fatigue.FATIGUED), distinct=True),
    )


def campaign_find_for(*, user, campaign_id) -> Campaign | None:
    """The user's campaign, or None for one that is not theirs or does not exist."""
    return Campaign.objects.filter(owner=user, id=campaign_id).first()


def campaign_get_for(*, user, campaign_id) -> Campaign:
    return get_object_or_404(Campaign.objects.filter(owner=user), id=campaign_id)


def ad_list_for(*, user) -> QuerySet[Ad]:
    return Ad.objects.filter(campaign__owner=user).select_related("campaign", "persona")


def ad_find_for(*, user, ad_id) -> Ad | None:
    return ad_list_for(user=user).filter(id=ad_id).first()


def ad_get_for(*, user, ad_id) -> Ad:
    return get_object_or_404(ad_list_for(user=user), id=ad_id)


def ad_daily_series(
    *, ad: Ad, days: int = SERIES_DAYS, today: date | None = None
) -> list[DayMetrics]:
    """The ad's results per day over the last `days` days, oldest first (days with data only)."""
    since = (today or timezone.now().date()) - timedelta(days=days)
    sql = f"WITH {daily_metrics_cte('ad.id = %(ad)s')} SELECT * FROM daily ORDER BY day"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"since": since, "ad": ad.id})
        return [
            DayMetrics(
                day=row[1],
                impressions=row[2],
                reach=row[3],
                clicks=row[4],
                spend=row[5],
                video_views=row[6],
                conversions=row[7],
                revenue=row[8],
            )  # fmt: skip
            for row in cursor.fetchall()
        ]


def campaign_daily_spend(
    *, campaign: Campaign, days: int = 30, today: date | None = None
) -> dict[UUID, dict[date, float]]:
    """Spend per ad and day over the last `days` days: {ad id: {day: spend}}."""
    since = (today or timezone.now().date()) - timedelta(days=days)
    sql = (
        f"WITH {daily_metrics_cte('ad.campaign_id = %(campaign)s')} "
        "SELECT ad_id, day, spend FROM daily ORDER BY day"
    )
    series: dict[UUID, dict[date, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"since": since, "campaign": campaign.id})
        for ad_id, day, spend in cursor.fetchall():
            series.setdefault(ad_id, {})[day] = spend
    return series


def campaign_ad_totals(
    *, campaign: Campaign, days: int = 30, today: date | None = None
) -> list[AdTotals]:
    """Each ad's totals over the last `days` days, most spend first (ads without data too)."""
    since = (today or timezone.now().date()) - timedelta(days=days)
    sql = f"""
        WITH {daily_metrics_cte("ad.campaign_id = %(campaign)s")}
        SELECT ad.id, ad.name,
               COALESCE(SUM(d.impressions), 0), COALESCE(SUM(d.clicks), 0),
               COALESCE(SUM(d.spend), 0), COALESCE(SUM(d.conversions), 0),
               COALESCE(SUM(d.revenue), 0)
        FROM jobs_ad ad LEFT JOIN daily d ON d.ad_id = ad.id
        WHERE ad.campaign_id = %(campaign)s
        GROUP BY ad.id, ad.name
        ORDER BY 5 DESC, ad.name
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"since": since, "campaign": campaign.id})
        return [AdTotals(*row) for row in cursor.fetchall()]


def fatigue_findings_for(*, ad: Ad, include_resolved: bool = True) -> QuerySet[FatigueFinding]:
    findings = FatigueFinding.objects.filter(ad=ad)
    return findings if include_resolved else findings.filter(is_open=True)


def fatigue_findings_list_for(*, user, open_only: bool = True) -> QuerySet[FatigueFinding]:
    findings = FatigueFinding.objects.filter(ad__campaign__owner=user).select_related(
        "ad", "ad__campaign"
    )
    return findings.filter(is_open=True) if open_only else findings


def winners_list_for(*, user) -> QuerySet[Ad]:
    return (
        ad_list_for(user=user)
        .filter(is_winner=True)
        .order_by("-winner_probability", "-winner_lift", "name")
    )


def budget_suggestion_current_for(*, campaign: Campaign) -> BudgetSuggestion | None:
    """The pending suggestion, else the latest one decided."""
    suggestions = BudgetSuggestion.objects.filter(campaign=campaign).prefetch_related(
        "lines", "lines__ad"
    )
    return suggestions.filter(status=BudgetSuggestion.Status.PENDING).first() or suggestions.first()


def budget_suggestion_get_for(*, user, suggestion_id) -> BudgetSuggestion:
    return get_object_or_404(
        BudgetSuggestion.objects.filter(campaign__owner=user).select_related("campaign"),
        id=suggestion_id,
    )


def analysis_last_runs() -> dict[str, AnalysisRun]:
    """The latest run of each analysis, by kind."""
    runs = {}
    for kind in AnalysisRun.Kind.values:
        run = AnalysisRun.objects.filter(kind=kind).first()
        if run is not None:
            runs[kind] = run
    return runs


def crm_unmatched_count() -> int:
    """Logged CRM events that matched no ad and whose conversion has none still."""
    return crm_unmatched_items().count()
