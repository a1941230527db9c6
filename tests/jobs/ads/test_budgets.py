from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jobs.ads.budgets import (
    budget_suggest,
    budget_suggestion_accept,
    budget_suggestion_current,
    budget_suggestion_reject,
    budget_suggestions_pass,
)
from jobs.ads.models import Ad, AdsAuditEntry, AnalysisRun, BudgetSuggestion
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

pytestmark = pytest.mark.django_db


def _campaign(owner, *, budget="100.00", ads: list[tuple[str, float, float]]):
    """A campaign whose ads are (current budget, conversion rate, CTR), 14 days of history."""
    campaign = make_campaign(owner, daily_budget=Decimal(budget))
    made = []
    for index, (current, conversion_rate, ctr) in enumerate(ads):
        ad = make_ad(campaign, name=f"Ad {index}", daily_budget=Decimal(current))
        write_history(ad, days=14, impressions=5000, ctr=ctr, conversion_rate=conversion_rate,
                      seed=index)  # fmt: skip
        made.append(ad)
    return campaign, made


def _lines(suggestion: BudgetSuggestion) -> dict:
    return {line.ad_id: line for line in suggestion.lines.all()}


def test_the_best_ad_gets_the_largest_share_within_floors_and_the_daily_limit(user):
    campaign, ads = _campaign(
        user, ads=[("20.00", 0.05, 0.02), ("20.00", 0.05, 0.02), ("40.00", 0.12, 0.02),
                   ("20.00", 0.04, 0.02)],
    )  # fmt: skip
    best = ads[2]

    suggestion = budget_suggest(campaign=campaign)

    lines = _lines(suggestion)
    assert max(lines.values(), key=lambda line: line.suggested_budget).ad_id == best.id
    assert lines[best.id].suggested_budget == Decimal("48.00")  # +20 %, the daily limit
    assert lines[best.id].probability_best > 0.95
    assert sum(line.suggested_budget for line in lines.values()) == Decimal("100.00")
    for line in lines.values():
        assert line.suggested_budget >= Decimal("5.00")
        assert line.current_budget * Decimal("0.8") <= line.suggested_budget
        assert line.suggested_budget <= line.current_budget * Decimal("1.2")
        assert line.share == pytest.approx(float(line.suggested_budget) / 100)
    assert lines[best.id].reason.startswith("Lowest cost per conversion in the campaign (")
    assert "over 14 days" in lines[best.id].reason
    assert "chance of being the best" in lines[best.id].reason
    assert lines[best.id].reason.endswith(
        "raised from 40.00 to 48.00 USD, held to the 20 % daily limit."
    )
    assert suggestion.status == BudgetSuggestion.Status.PENDING
    assert suggestion.metric == "conversions"
    assert suggestion.method == (
        "Thompson sampling on conversions per USD, 4000 draws, 5 % floor, ±20 % a day"
    )
    assert suggestion.summary.startswith("Raises 1 ad and lowers 2 ads (Ad 2 has a ")
    assert suggestion.total_budget == Decimal("100.00") and suggestion.window_days == 14


def test_a_new_ad_rises_to_the_floor_and_a_poor_one_falls_no_more_than_the_limit(user):
    campaign, (good, poor) = _campaign(user, ads=[("45.00", 0.10, 0.02), ("55.00", 0.02, 0.02)])
    new = make_ad(campaign, name="New", daily_budget=Decimal("0"))

    lines = _lines(budget_suggest(campaign=campaign))

    assert lines[new.id].suggested_budget == Decimal("5.00")
    assert lines[new.id].reason == (
        "Too few results to judge (0 conversions); raised from 0.00 to 5.00 USD, the 5 % floor, "
        "so it keeps learning."
    )
    assert lines[poor.id].suggested_budget == Decimal("44.00")  # 55.00 less 20 %
    assert lines[poor.id].reason.endswith("held to the 20 % daily limit.")
    assert lines[good.id].suggested_budget == Decimal("51.00")  # what is left of 100.00
    assert sum(line.suggested_budget for line in lines.values()) == Decimal("100.00")


def test_an_ad_with_few_results_is_kept_at_the_floor(user):
    campaign, ads = _campaign(
        user, ads=[("45.00", 0.05, 0.02), ("45.00", 0.06, 0.02), ("5.00", 0.0, 0.02)]
    )
    quiet = ads[2]
    write_history(quiet, days=1, impressions=1000, ctr=0.1, conversion_rate=0.03,
                  end=timezone.now().date(), seed=7)  # fmt: skip

    line = _lines(budget_suggest(campaign=campaign))[quiet.id]

    assert line.suggested_budget == Decimal("5.00")
    assert line.reason.startswith("Too few results to judge (")
    assert line.reason.endswith("; kept at the 5 % floor so it keeps learning.")


def test_when_the_limits_cannot_reach_the_budget_the_rest_stays_unallocated(user):
    campaign, (better, worse) = _campaign(user, ads=[("10.00", 0.05, 0.02), ("10.00", 0.05, 0.02)])

    suggestion = budget_suggest(campaign=campaign)

    lines = _lines(suggestion)
    assert lines[better.id].suggested_budget == Decimal("12.00")
    # The other ad would give up its share, but the better one is at its limit: it is
    # spared the cut, never raised with money the sampling wants elsewhere.
    assert lines[worse.id].suggested_budget == Decimal("10.00")
    assert lines[worse.id].reason.endswith(
        "kept at 10.00 USD: the ads that would take its share are at their daily limit already."
    )
    assert "78.00 USD stays unallocated because the ads that deserve more may rise only 20 % " in (
        suggestion.summary
    )


def test_a_budget_cut_below_the_limits_goes_beyond_them_sparing_the_best(user):
    campaign, (plain, best) = _campaign(
        user, budget="50.00", ads=[("40.00", 0.05, 0.02), ("40.00", 0.10, 0.02)]
    )

    suggestion = budget_suggest(campaign=campaign)

    lines = _lines(suggestion)
    assert lines[best.id].suggested_budget == Decimal("32.00")  # 40.00 less 20 %
    assert lines[plain.id].suggested_budget == Decimal("18.00")
    assert lines[plain.id].reason.endswith(
        "lowered from 40.00 to 18.00 USD, beyond the daily limit, to fit the campaign budget."
    )
    assert "(50.00 USD) is below what the daily limit allows" in suggestion.summary


def test_clicks_per_spend_when_the_campaign_has_no_conversions(user):
    campaign, (plain, catchy) = _campaign(user, ads=[("50.00", 0.0, 0.02), ("50.00", 0.0, 0.03)])

    suggestion = budget_suggest(campaign=campaign)

    lines = _lines(suggestion)
    assert suggestion.metric == "clicks"
    assert suggestion.method.startswith("Thompson sampling on clicks per USD")
    assert lines[catchy.id].suggested_budget == Decimal("60.00")
    assert lines[plain.id].suggested_budget == Decimal("40.00")
    assert lines[catchy.id].reason.startswith("Lowest cost per click in the campaign")


def test_the_same_day_gives_the_same_split_and_supersedes_the_pending_one(user):
    campaign, _ = _campaign(
        user, ads=[("30.00", 0.05, 0.02), ("30.00", 0.055, 0.02), ("40.00", 0.05, 0.021)]
    )
    now = timezone.now()

    first = budget_suggest(campaign=campaign, now=now)
    second = budget_suggest(campaign=campaign, now=now)

    def split(suggestion):
        return sorted(
            (line.ad_id, line.suggested_budget, line.probability_best)
            for line in suggestion.lines.all()
        )

    assert split(first) == split(second)
    first.refresh_from_db()
    assert first.status == BudgetSuggestion.Status.SUPERSEDED
    assert second.status == BudgetSuggestion.Status.PENDING
    assert budget_suggestion_current(campaign=campaign) == second


def test_no_suggestion_without_a_budget_or_active_ads(user):
    broke, _ = _campaign(user, budget="0", ads=[("10.00", 0.05, 0.02)])
    idle, (ad,) = _campaign(user, ads=[("10.00", 0.05, 0.02)])
    Ad.objects.filter(id=ad.id).update(status="paused")

    assert budget_suggest(campaign=broke) is None
    assert budget_suggest(campaign=idle) is None
    assert budget_suggestion_current(campaign=idle) is None


def test_accepting_sets_the_ads_budgets_and_is_audited_once(user, other_user):
    campaign, ads = _campaign(user, ads=[("50.00", 0.08, 0.02), ("50.00", 0.04, 0.02)])
    suggestion = budget_suggest(campaign=campaign)
    planned = {line.ad_id: line.suggested_budget for line in suggestion.lines.all()}

    accepted = budget_suggestion_accept(suggestion=suggestion, actor=user, note="Looks right")

    assert accepted.status == BudgetSuggestion.Status.ACCEPTED
    assert accepted.decided_by == user and accepted.decided_at is not None
    assert accepted.decision_note == "Looks right"
    for ad in ads:
        ad.refresh_from_db()
        assert ad.daily_budget == planned[ad.id]
    (entry,) = AdsAuditEntry.objects.filter(action="budget_suggestion.accepted")
    assert entry.actor == user and entry.suggestion == suggestion and entry.campaign == campaign
    changes = {change["ad"]: change for change in entry.details["changes"]}
    assert changes[str(ads[0].id)]["from"] == "50.00"
    assert changes[str(ads[0].id)]["to"] == str(planned[ads[0].id])
    assert entry.details["note"] == "Looks right"

    with pytest.raises(ValidationError, match="can no longer be accepted: it was accepted"):
        budget_suggestion_accept(suggestion=suggestion, actor=other_user)
    with pytest.raises(ValidationError, match="can no longer be rejected"):
        budget_suggestion_reject(suggestion=suggestion, actor=other_user)
    assert AdsAuditEntry.objects.filter(suggestion=suggestion).count() == 1
    assert budget_suggestion_current(campaign=campaign) == suggestion


def test_rejecting_keeps_the_budgets(user):
    campaign, ads = _campaign(user, ads=[("50.00", 0.08, 0.02), ("50.00", 0.04, 0.02)])
    suggestion = budget_suggest(campaign=campaign)

    rejected = budget_suggestion_reject(suggestion=suggestion, actor=user, note="Not now")

    assert rejected.status == BudgetSuggestion.Status.REJECTED
    assert {str(ad.daily_budget) for ad in Ad.objects.filter(campaign=campaign)} == {"50.00"}
    entry = AdsAuditEntry.objects.get(action="budget_suggestion.rejected")
    assert entry.details["note"] == "Not now" and entry.details["changes"] == []


def test_a_superseded_suggestion_cannot_be_accepted(user):
    campaign, _ = _campaign(user, ads=[("50.00", 0.08, 0.02), ("50.00", 0.04, 0.02)])
    old = budget_suggest(campaign=campaign)
    budget_suggest(campaign=campaign)

    with pytest.raises(ValidationError, match="a newer suggestion replaced it"):
        budget_suggestion_accept(suggestion=old, actor=user)


def test_the_pass_suggests_for_every_active_campaign_with_a_budget(user):
    _campaign(user, ads=[("50.00", 0.08, 0.02), ("50.00", 0.04, 0.02)])
    _campaign(user, ads=[("50.00", 0.05, 0.02)])
    _campaign(user, budget="0", ads=[("50.00", 0.05, 0.02)])
    paused, _ = _campaign(user, ads=[("50.00", 0.05, 0.02)])
    paused.status = "paused"
    paused.save()
    make_campaign(user, name="No ads")

    summary = budget_suggestions_pass()

    assert summary["campaigns"] == 3
    assert summary["suggestions"] == 2 and summary["without_ads"] == 1
    assert summary["failed"] == 0
    run = AnalysisRun.objects.get(kind=AnalysisRun.Kind.BUDGETS)
    assert run.summary["suggestions"] == 2 and run.error == "" and run.duration_ms is not None
    assert BudgetSuggestion.objects.count() == 2
