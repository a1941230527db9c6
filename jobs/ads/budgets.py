"""Budget suggestions: how to split a campaign's daily budget across its ads, and the decision.

Over the last BUDGET_WINDOW_DAYS days each active ad's results per unit of spend (conversions
per currency unit; clicks where the campaign has no conversion yet) has the posterior
Gamma(α0 + results, β0 + spend); the weak prior (α0 = 1, β0 = the spend of one result at the
campaign's pooled rate) pulls an ad with little data toward the campaign. Thompson sampling
draws BUDGET_SAMPLES values per ad, seeded by campaign and day (a rerun the same day gives the
same split); an ad's share of the budget above the floors is its chance of being the best.

- Floors: every active ad keeps BUDGET_FLOOR_SHARE of the budget, so it keeps learning.
- Daily limit: an ad moves at most ±BUDGET_MAX_DAILY_CHANGE from its current budget; one below
  the floor (a new ad at 0) may rise straight to the floor.
- The lines meet the budget by clipping: what the limits leave over goes to the ads with the
  most expected results per unit of spend first, each up to its limit (and what must come back
  comes from those with the fewest first). Where the limits cannot reach the budget the rest
  stays unallocated and the summary says how much; where the budget is below what the limits
  allow (it was cut), the ads may fall below their limit down to their floor, and the summary
  says so.

Nothing changes on an ad platform: accepting changes the ads' budgets in Slidecast's records
and the audit trail, for an operator to carry over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from jobs.ads.daily import daily_metrics_cte
from jobs.ads.models import (
    Ad,
    AdsAuditEntry,
    AnalysisRun,
    BudgetSuggestion,
    BudgetSuggestionLine,
    Campaign,
    DeliveryStatus,
)
from jobs.ads.selectors import budget_suggestion_current_for

logger = logging.getLogger("slidecast.ads")

FEW_RESULTS = 10  # below this many results, an ad's cost per result is not compared
_CENT = 0.005

_STATS_SQL = f"""
WITH {daily_metrics_cte("ad.campaign_id = %(campaign)s AND ad.status = 'active'")}
SELECT ad.id, ad.name, ad.daily_budget,
       COALESCE(SUM(d.clicks), 0), COALESCE(SUM(d.conversions), 0),
       COALESCE(SUM(d.spend), 0), COALESCE(SUM(d.revenue), 0)
FROM jobs_ad ad LEFT JOIN daily d ON d.ad_id = ad.id
WHERE ad.campaign_id = %(campaign)s AND ad.status = 'active'
GROUP BY ad.id ORDER BY ad.id
"""


@dataclass(frozen=True)
class _Plan:
    """Where the budget goes: arrays in the order of the ads."""

    noun: str
    results: np.ndarray
    cost_per_result: np.ndarray
    probability_best: np.ndarray
    floor: float
    target: np.ndarray
    low: np.ndarray
    high: np.ndarray
    suggested: np.ndarray
    over_limit: bool


def budget_suggest(*, campaign: Campaign, now: datetime | None = None) -> BudgetSuggestion | None:
    """A new pending suggestion for the campaign (the pending one superseded); None if no ads."""
    now = now or timezone.now()
    budget, days = float(campaign.daily_budget), settings.ADS["BUDGET_WINDOW_DAYS"]
    if budget <= 0:
        return None
    with connection.cursor() as cursor:
        since = now.date() - timedelta(days=days)
        cursor.execute(_STATS_SQL, {"since": since, "campaign": campaign.id})
        rows = cursor.fetchall()
    if not rows:
        return None
    current, clicks, conversions, spend, revenue = np.array([r[2:] for r in rows], dtype=float).T
    plan = _plan(campaign=campaign, day=now.date(), budget=budget, current=current,
                 clicks=clicks, conversions=conversions, spend=spend)  # fmt: skip
    roas = np.divide(revenue, spend, out=np.full_like(spend, np.nan), where=spend > 0)
    lines = [
        BudgetSuggestionLine(
            ad_id=row[0],
            current_budget=Decimal(f"{current[i]:.2f}"),
            suggested_budget=Decimal(f"{plan.suggested[i]:.2f}"),
            share=float(plan.suggested[i] / budget),
            probability_best=float(plan.probability_best[i]),
            cost_per_result=_or_none(plan.cost_per_result[i]),
            roas=_or_none(roas[i]) if revenue.sum() > 0 else None,
            reason=_reason(plan, i, current=current[i], currency=campaign.currency, days=days),
        )
        for i, row in enumerate(rows)
    ]
    summary = _summary(plan, names=[row[1] for row in rows], current=current, budget=budget,
                       currency=campaign.currency)  # fmt: skip
    return _store(campaign, plan, lines, summary=summary, days=days)


def _store(
    campaign: Campaign, plan: _Plan, lines: list[BudgetSuggestionLine], *, summary: str, days: int
) -> BudgetSuggestion:
    ads, currency = settings.ADS, campaign.currency
    with transaction.atomic():
        # One suggestion at a time per campaign: a second pass waits here, then supersedes.
        Campaign.objects.select_for_update().filter(id=campaign.id).first()
        BudgetSuggestion.objects.filter(
            campaign=campaign, status=BudgetSuggestion.Status.PENDING
        ).update(status=BudgetSuggestion.Status.SUPERSEDED)
        suggestion = BudgetSuggestion.objects.create(
            campaign=campaign,
            total_budget=campaign.daily_budget,
            currency=currency,
            method=(
                f"Thompson sampling on {plan.noun}s per {currency}, {ads['BUDGET_SAMPLES']} "
                f"draws, {_pct(ads['BUDGET_FLOOR_SHARE'])} % floor, "
                f"±{_pct(ads['BUDGET_MAX_DAILY_CHANGE'])} % a day"
            ),
            metric=f"{plan.noun}s",
            window_days=days,
            summary=summary,
        )
        for line in lines:
            line.suggestion = suggestion
        BudgetSuggestionLine.objects.bulk_create(lines)
    return suggestion


def _plan(
    *, campaign: Campaign, day: date, budget: float, current: np.ndarray, clicks: np.ndarray,
    conversions: np.ndarray, spend: np.ndarray,
) -> _Plan:  # fmt: skip
    ads = settings.ADS
    noun, results = ("conversion", conversions) if conversions.sum() > 0 else ("click", clicks)
    count = len(results)
    rng = np.random.default_rng([campaign.id.int, day.toordinal()])
    best, merit = _thompson(results, spend, draws=ads["BUDGET_SAMPLES"], rng=rng)
    floor = min(budget * ads["BUDGET_FLOOR_SHARE"], budget / count)
    target = floor + (budget - floor * count) * best
    change = ads["BUDGET_MAX_DAILY_CHANGE"]
    low = np.maximum(current * (1 - change), floor)
    high = np.maximum(current * (1 + change), floor)
    over_limit = low.sum() > budget + _CENT
    # A budget cut below what the daily limit allows: every ad between its floor and its limit.
    bounds = (np.full(count, floor), low) if over_limit else (low, high)
    suggested = _fit(target, *bounds, budget, merit, current=current)
    cost = np.divide(spend, results, out=np.full_like(spend, np.nan), where=results > 0)
    return _Plan(
        noun=noun, results=results, cost_per_result=cost, probability_best=best, floor=floor,
        target=target, low=low, high=high, suggested=_cents(suggested, budget),
        over_limit=over_limit,
    )  # fmt: skip


def _thompson(
    results: np.ndarray, spend: np.ndarray, *, draws: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each ad's chance of the most results per unit of spend, and its expected results per unit."""
    count = len(results)
    if results.sum() <= 0 or spend.sum() <= 0:
        return np.full(count, 1 / count), np.ones(count)  # nothing known yet: all alike
    # Prior Gamma(1, the spend of one result at the pooled rate), updated by the ad's own.
    shape, rate = 1 + results, spend.sum() / results.sum() + spend
    samples = rng.gamma(shape, 1 / rate, size=(draws, count))
    return np.bincount(samples.argmax(axis=1), minlength=count) / draws, shape / rate


def _fit(
    target: np.ndarray, low: np.ndarray, high: np.ndarray, budget: float, merit: np.ndarray,
    *, current: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The target clipped to [low, high], then brought to the budget: what the limits leave
    over goes to the ads with the most results per unit of spend first, each up to its limit;
    what must come back is taken from the ads with the fewest first.

    Left-over money never raises an ad the sampling wants less of above its current budget:
    at most it spares it the cut (the better ads being at their daily limit already).
    """
    suggested = np.clip(target, low, high)
    room = np.where(target >= current, high, np.maximum(np.minimum(high, current), suggested))
    gap = budget - suggested.sum()
    for i in np.argsort(-merit if gap > 0 else merit, kind="stable"):
        step = min(gap, room[i] - suggested[i]) if gap > 0 else max(gap, low[i] - suggested[i])
        suggested[i] += step
        gap -= step
    return suggested


def _cents(amounts: np.ndarray, budget: float) -> np.ndarray:
    """Whole cents; where the amounts sum to the budget, the cents do too (largest remainder)."""
    cents = np.floor(amounts * 100 + 1e-6)
    if abs(amounts.sum() - budget) > _CENT:
        return np.round(amounts * 100) / 100
    missing = max(int(round(budget * 100 - cents.sum())), 0)
    order = np.argsort(-(amounts * 100 - cents), kind="stable")
    cents[order[:missing]] += 1
    return cents / 100


def _reason(plan: _Plan, i: int, *, current: float, currency: str, days: int) -> str:
    results = int(plan.results[i])
    judged = plan.results >= FEW_RESULTS
    parts = []
    if not judged[i]:
        noun = plan.noun if results == 1 else f"{plan.noun}s"
        parts.append(f"Too few results to judge ({results} {noun})")
    else:
        costs = plan.cost_per_result[judged]
        median, cost = float(np.median(costs)), float(plan.cost_per_result[i])
        versus = f"{cost:.2f} {currency} vs median {median:.2f} {currency} over {days} days"
        if cost <= costs.min():
            parts.append(f"Lowest cost per {plan.noun} in the campaign ({versus})")
        else:
            parts.append(f"Cost per {plan.noun} {versus}")
        parts.append(f"{_pct(plan.probability_best[i])} % chance of being the best")
    parts.append(_change(plan, i, current=current, currency=currency))
    return ("; ".join(parts) + ".")[:500]


def _change(plan: _Plan, i: int, *, current: float, currency: str) -> str:
    new, floor = float(plan.suggested[i]), plan.floor
    if new > current + _CENT:
        said = f"raised from {current:.2f} to {new:.2f} {currency}"
    elif new < current - _CENT:
        said = f"lowered from {current:.2f} to {new:.2f} {currency}"
    else:
        said = f"kept at {new:.2f} {currency}"
    floor_share = _pct(settings.ADS["BUDGET_FLOOR_SHARE"])
    if plan.target[i] < current - _CENT and abs(new - current) <= _CENT:
        return f"{said}: the ads that would take its share are at their daily limit already"
    if abs(new - floor) <= _CENT:
        if said.startswith("kept"):
            return f"kept at the {floor_share} % floor so it keeps learning"
        return f"{said}, the {floor_share} % floor, so it keeps learning"
    limit = f"held to the {_pct(settings.ADS['BUDGET_MAX_DAILY_CHANGE'])} % daily limit"
    if plan.over_limit and new < plan.low[i] - _CENT:
        return f"{said}, beyond the daily limit, to fit the campaign budget"
    if abs(new - plan.high[i]) <= _CENT and plan.target[i] > plan.high[i] + _CENT:
        return f"{said}, {limit}"
    if abs(new - plan.low[i]) <= _CENT and plan.target[i] < plan.low[i] - _CENT:
        return f"{said}, {limit}"
    return said


def _summary(
    plan: _Plan, *, names: list[str], current: np.ndarray, budget: float, currency: str
) -> str:
    raised = int((plan.suggested > current + _CENT).sum())
    lowered = int((plan.suggested < current - _CENT).sum())
    moves = [
        f"raises {_ads(raised)}" if raised else "",
        f"lowers {_ads(lowered)}" if lowered else "",
    ]
    said = " and ".join(move for move in moves if move).capitalize() or "Keeps every budget"
    best = int(np.argmax(plan.probability_best))
    if plan.probability_best.max() > plan.probability_best.min():
        chance = _pct(plan.probability_best[best])
        said += f" ({names[best][:100]} has a {chance} % chance of being the best)"
    else:
        said += f" (no ad stands out on {plan.noun}s yet)"
    unallocated = budget - float(plan.suggested.sum())
    if plan.over_limit:
        said += (
            f"; the campaign budget ({budget:.2f} {currency}) is below what the daily limit "
            "allows, so ads are cut beyond it"
        )
    elif unallocated > _CENT:
        said += (
            f"; {unallocated:.2f} {currency} stays unallocated because the ads that deserve "
            f"more may rise only {_pct(settings.ADS['BUDGET_MAX_DAILY_CHANGE'])} % a day"
        )
    return said[:499] + "."


def _ads(count: int) -> str:
    return f"{count} ad" if count == 1 else f"{count} ads"


def _pct(value: float) -> str:
    return f"{value * 100:.0f}"


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def budget_suggestions_pass(*, now: datetime | None = None) -> dict:
    """A new suggestion for every active campaign with a budget; returns the summary."""
    now = now or timezone.now()
    run = AnalysisRun.objects.create(kind=AnalysisRun.Kind.BUDGETS, started_at=now)
    clock = time.monotonic()
    campaigns = Campaign.objects.filter(status=DeliveryStatus.ACTIVE, daily_budget__gt=0)
    summary = {"campaigns": 0, "suggestions": 0, "without_ads": 0, "failed": 0}
    errors = []
    for campaign in campaigns.order_by("id").iterator():
        summary["campaigns"] += 1
        try:
            suggestion = budget_suggest(campaign=campaign, now=now)
        except Exception as exc:  # one campaign's failure must not stop the others'
            logger.exception("budget suggestion failed for campaign %s", campaign.id)
            summary["failed"] += 1
            errors.append(f"{campaign.id}: {type(exc).__name__}: {exc}")
            continue
        summary["suggestions" if suggestion else "without_ads"] += 1
    summary["duration_ms"] = duration_ms = round((time.monotonic() - clock) * 1000)
    AnalysisRun.objects.filter(id=run.id).update(
        finished_at=now + timedelta(milliseconds=duration_ms), duration_ms=duration_ms,
        summary=summary, error="\n".join(errors[:20]),
    )  # fmt: skip
    return summary


def budget_suggestion_current(*, campaign: Campaign) -> BudgetSuggestion | None:
    """The pending suggestion, else the latest one decided; None before the first."""
    return budget_suggestion_current_for(campaign=campaign)


_DECIDED = {
    BudgetSuggestion.Status.ACCEPTED: "it was accepted already",
    BudgetSuggestion.Status.REJECTED: "it was rejected",
    BudgetSuggestion.Status.SUPERSEDED: "a newer suggestion replaced it",
}


def budget_suggestion_accept(
    *, suggestion: BudgetSuggestion, actor, note: str = ""
) -> BudgetSuggestion:
    """Accept a pending suggestion: its budgets become the ads' budgets in Slidecast's records.

    Nothing is sent to an ad platform; the operator carries the budgets over there.
    """
    now = timezone.now()
    with transaction.atomic():
        _claim(suggestion, BudgetSuggestion.Status.ACCEPTED, actor=actor, note=note, now=now)
        changes = []
        for line in suggestion.lines.select_related("ad").order_by("ad_id"):
            changes.append({
                "ad": str(line.ad_id), "name": line.ad.name,
                "from": str(line.ad.daily_budget), "to": str(line.suggested_budget),
            })  # fmt: skip
            Ad.objects.filter(id=line.ad_id).update(
                daily_budget=line.suggested_budget, updated_at=now
            )
        _audit(suggestion, "budget_suggestion.accepted", actor, note=note, changes=changes)
    suggestion.refresh_from_db()
    return suggestion


def budget_suggestion_reject(
    *, suggestion: BudgetSuggestion, actor, note: str = ""
) -> BudgetSuggestion:
    """Reject a pending suggestion; the ads' budgets stay as they are."""
    with transaction.atomic():
        _claim(suggestion, BudgetSuggestion.Status.REJECTED, actor=actor, note=note,
               now=timezone.now())  # fmt: skip
        _audit(suggestion, "budget_suggestion.rejected", actor, note=note, changes=[])
    suggestion.refresh_from_db()
    return suggestion


def _claim(suggestion: BudgetSuggestion, status: str, *, actor, note: str, now: datetime) -> None:
    """Decide the suggestion if it is still pending: of two operators, only one gets to."""
    claimed = BudgetSuggestion.objects.filter(
        id=suggestion.id, status=BudgetSuggestion.Status.PENDING
    ).update(status=status, decided_at=now, decided_by=_user(actor), decision_note=note[:500])
    if claimed != 1:
        found = BudgetSuggestion.objects.filter(id=suggestion.id).first()
        verb = "accepted" if status == BudgetSuggestion.Status.ACCEPTED else "rejected"
        why = _DECIDED.get(found.status if found else None, "it no longer exists")
        raise ValidationError(f"This budget suggestion can no longer be {verb}: {why}.")


def _audit(suggestion: BudgetSuggestion, action: str, actor, *, note: str, changes: list) -> None:
    AdsAuditEntry.objects.create(
        actor=_user(actor),
        action=action,
        campaign_id=suggestion.campaign_id,
        suggestion=suggestion,
        details={"note": note, "total_budget": str(suggestion.total_budget), "changes": changes},
    )


def _user(actor):
    return actor if getattr(actor, "pk", None) else None
