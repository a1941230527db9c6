"""The ads pages: campaigns and their ads, the snapshot upload, how each ad does over time,
the budget suggestion to decide on, a fresh creative for a worn-out ad, and winners search."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from jobs.ads import budgets, fatigue, selectors, services, snapshots, winners
from jobs.ads.models import Ad, BudgetSuggestion, Campaign, FatigueFinding
from jobs.web import charts
from jobs.web.ads_forms import (
    AdForm,
    CampaignForm,
    RefreshCreativeForm,
    SnapshotUploadForm,
    SuggestionDecisionForm,
    WinnersSearchForm,
)

# A page of a thousand rows still opens quickly; past that the count says what is left out.
MAX_ERRORS_SHOWN = 1000
AD_CHART_DAYS = 90
SPEND_CHART_DAYS = 30
METRICS = {"ctr": "CTR", "conversions_per_impression": "Conversions per impression"}


@login_required
@require_GET
def ads_home(request: HttpRequest) -> HttpResponse:
    return _home_page(request)


@login_required
@require_POST
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST)
    if form.is_valid():
        try:
            campaign = services.campaign_create(
                owner=request.user, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Campaign “{campaign.name}” created.")
            return redirect("jobs:ads-campaign", campaign_id=campaign.id)
    return _home_page(request, campaign_form=form, status=400)


@login_required
@require_POST
def snapshots_upload(request: HttpRequest) -> HttpResponse:
    # The report is shown in this response rather than after a redirect: it is not stored,
    # and sending the same file again only rewrites the same days.
    form = SnapshotUploadForm(request.POST, request.FILES)
    report = None
    if form.is_valid():
        try:
            report = snapshots.snapshots_ingest_csv(
                owner=request.user, upload=form.cleaned_data["file"]
            )
        except ValidationError as exc:
            form.add_error("file", exc)
    return _home_page(request, upload_form=form, report=report, status=200 if report else 400)


def _home_page(
    request: HttpRequest, *, campaign_form: CampaignForm | None = None,
    upload_form: SnapshotUploadForm | None = None, report=None, status: int = 200,
) -> HttpResponse:  # fmt: skip
    errors = report.errors if report else []
    context = {
        "campaigns": selectors.campaign_list_for(user=request.user),
        "findings": [
            _finding_row(f) for f in selectors.fatigue_findings_list_for(user=request.user)[:100]
        ],
        "winner_count": selectors.winners_list_for(user=request.user).count(),
        "campaign_form": campaign_form or CampaignForm(),
        "upload_form": upload_form or SnapshotUploadForm(),
        "csv_columns": snapshots.SNAPSHOT_FIELDS,
        "report": report,
        "report_errors": errors[:MAX_ERRORS_SHOWN],
        "errors_not_shown": max(len(errors) - MAX_ERRORS_SHOWN, 0),
    }
    return render(request, "jobs/ads_home.html", context, status=status)


@login_required
@require_GET
def campaign_detail(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign = selectors.campaign_get_for(user=request.user, campaign_id=campaign_id)
    return _campaign_page(request, campaign)


@login_required
@require_POST
def ad_create(request: HttpRequest, campaign_id) -> HttpResponse:
    campaign = selectors.campaign_get_for(user=request.user, campaign_id=campaign_id)
    form = AdForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            ad = services.ad_create(campaign=campaign, actor=request.user, **form.ad_fields())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Ad “{ad.name}” added; its utm_content is {ad.utm_content}.")
            return redirect("jobs:ads-ad", ad_id=ad.id)
    return _campaign_page(request, campaign, ad_form=form, status=400)


def _campaign_page(
    request: HttpRequest, campaign: Campaign, *, ad_form: AdForm | None = None, status: int = 200
) -> HttpResponse:
    ads = {ad.id: ad for ad in selectors.ad_list_for(user=request.user).filter(campaign=campaign)}
    totals = selectors.campaign_ad_totals(campaign=campaign, days=SPEND_CHART_DAYS)
    spend = selectors.campaign_daily_spend(campaign=campaign, days=SPEND_CHART_DAYS)
    chart = charts.stacked_bar_chart(
        series=[
            charts.Series(ads[ad_id].name, sorted(days.items()))
            for ad_id, days in spend.items()
            if ad_id in ads
        ],
        title=f"Spend per ad and day, last {SPEND_CHART_DAYS} days ({campaign.currency})",
        value_label=f"Spend ({campaign.currency})",
        empty_message=f"No spend reported in the last {SPEND_CHART_DAYS} days.",
    )
    suggestion = selectors.budget_suggestion_current_for(campaign=campaign)
    context = {
        "campaign": campaign,
        "spend_chart": chart,
        "rows": [_totals_row(t, ads[t.ad_id], campaign.currency) for t in totals],
        "days": SPEND_CHART_DAYS,
        "suggestion": suggestion,
        "suggestion_lines": _suggestion_lines(suggestion) if suggestion else [],
        # What the lines allocate, which the daily limit may keep below the campaign budget.
        "suggested_total": sum(line.suggested_budget for line in suggestion.lines.all())
        if suggestion
        else None,
        "decision_form": SuggestionDecisionForm(),
        "ad_form": ad_form or AdForm(user=request.user),
    }
    return render(request, "jobs/ads_campaign.html", context, status=status)


@login_required
@require_POST
def suggestion_decide(request: HttpRequest, suggestion_id) -> HttpResponse:
    suggestion = selectors.budget_suggestion_get_for(user=request.user, suggestion_id=suggestion_id)
    form = SuggestionDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Accept or Reject; a note has at most 500 characters.")
        return redirect("jobs:ads-campaign", campaign_id=suggestion.campaign_id)
    accept = form.cleaned_data["decision"] == "accept"
    decide = budgets.budget_suggestion_accept if accept else budgets.budget_suggestion_reject
    try:
        decide(suggestion=suggestion, actor=request.user, note=form.cleaned_data["note"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "Suggestion accepted: the ads' daily budgets are now the suggested ones. Nothing "
            "is sent to the ad platform; set the same budgets there."
            if accept
            else "Suggestion rejected: the budgets stay as they are.",
        )
    return redirect("jobs:ads-campaign", campaign_id=suggestion.campaign_id)


@login_required
@require_GET
def ad_detail(request: HttpRequest, ad_id) -> HttpResponse:
    return _ad_page(request, selectors.ad_get_for(user=request.user, ad_id=ad_id))


@login_required
@require_POST
def ad_refresh_creative(request: HttpRequest, ad_id) -> HttpResponse:
    ad = selectors.ad_get_for(user=request.user, ad_id=ad_id)
    form = RefreshCreativeForm(request.POST, user=request.user)
    if form.is_valid():
        persona = form.cleaned_data["persona"]
        try:
            job = services.ad_refresh_creative(
                ad=ad, actor=request.user, persona=persona,
                resolution=form.cleaned_data["resolution"] or None,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"A new narration of “{ad.name}” with {persona.name} has started. Once it is "
                "made, add it to the campaign as a new ad to test it against the old one.",
            )
            return redirect("jobs:detail", job_id=job.id)
    return _ad_page(request, ad, refresh_form=form, status=400)


@login_required
@require_POST
def ad_fatigue_check(request: HttpRequest, ad_id) -> HttpResponse:
    ad = selectors.ad_get_for(user=request.user, ad_id=ad_id)
    # One ad's check reads at most a few months of days: quick enough to wait for.
    fatigue.fatigue_pass(ad_ids=[ad.id])
    ad = selectors.ad_get_for(user=request.user, ad_id=ad_id)
    reason = f": {ad.fatigue_reason}" if ad.fatigue_reason else "."
    messages.info(request, f"Checked just now. {ad.get_fatigue_display()}{reason}")
    return redirect("jobs:ads-ad", ad_id=ad.id)


def _ad_page(
    request: HttpRequest, ad: Ad, *, refresh_form: RefreshCreativeForm | None = None,
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    days = selectors.ad_daily_series(ad=ad, days=AD_CHART_DAYS)
    findings = list(selectors.fatigue_findings_for(ad=ad))
    rates = "CTR and conversion rate" if any(d.conversions for d in days) else "CTR"
    context = {
        "ad": ad,
        "chart": _ad_chart(days, findings, rates=rates),
        "chart_heading": f"{rates} per day, last {AD_CHART_DAYS} days",
        "summary": _period_summary(days, ad.campaign.currency),
        "findings": [_finding_row(f) for f in findings],
        "refresh_form": refresh_form or RefreshCreativeForm(user=request.user),
        "can_refresh": ad.narration_job_id is not None
        or (ad.media_job is not None and ad.media_job.source_job_id is not None),
    }
    return render(request, "jobs/ads_ad.html", context, status=status)


@login_required
@require_GET
def winners_page(request: HttpRequest) -> HttpResponse:
    form = WinnersSearchForm(request.GET or None, user=request.user)
    matches = None
    if form.is_bound and form.is_valid():
        try:
            found = winners.winners_search(
                owner=request.user, text=form.cleaned_data["q"], job=form.cleaned_data["job"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            matches = [
                {"match": m, "similarity": _pct(m.similarity),
                 "results": winners.results_line(m.results) if m.results else "",
                 "probability": _pct(m.probability), "lift": _signed_pct(m.lift)}
                for m in found
            ]  # fmt: skip
    rows = [
        {"ad": ad, "metric": METRICS.get(ad.winner_metric, ad.winner_metric),
         "probability": _pct(ad.winner_probability), "lift": _signed_pct(ad.winner_lift)}
        for ad in selectors.winners_list_for(user=request.user)
    ]  # fmt: skip
    context = {"form": form, "winners": rows, "matches": matches}
    return render(request, "jobs/ads_winners.html", context)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's refusal on the form: on its field where the form has that field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _ad_chart(days, findings: Iterable[FatigueFinding], *, rates: str) -> str:
    series = [charts.Series("CTR", [(d.day, d.ctr) for d in days])]
    if rates != "CTR":
        series.append(charts.Series("Conversion rate", [(d.day, d.conversion_rate) for d in days]))
    markers = [
        charts.Marker(
            f.alarm_day,
            f"{f.get_severity_display()} fatigue ({METRICS.get(f.metric, f.metric)}): down "
            f"{_pct(f.drop)}, {_pct(f.baseline_rate, 2)} → {_pct(f.recent_rate, 2)}; "
            f"alarm on {f.alarm_day.isoformat()}" + ("" if f.is_open else " (resolved)"),
            f.severity,
        )
        for f in findings
    ]
    return charts.line_chart(
        series=series,
        title=f"{rates} per day over the last {AD_CHART_DAYS} days, impressions and alarms",
        value_label="Rate",
        bars=charts.Series("Impressions", [(d.day, d.impressions) for d in days]),
        markers=markers,
        empty_message=f"No results reported in the last {AD_CHART_DAYS} days.",
    )


def _period_summary(days, currency: str) -> dict:
    impressions = sum(d.impressions for d in days)
    clicks = sum(d.clicks for d in days)
    conversions = sum(d.conversions for d in days)
    spend = sum(d.spend for d in days)
    revenue = sum(d.revenue for d in days)
    return {
        "days": len(days),
        "first": days[0].day if days else None,
        "last": days[-1].day if days else None,
        "impressions": charts.count(impressions),
        "clicks": charts.count(clicks),
        "ctr": _pct(clicks / impressions, 2) if impressions else "–",
        "conversions": f"{conversions:,.0f}",
        "spend": f"{spend:,.2f} {currency}",
        "revenue": f"{revenue:,.2f} {currency}",
        "roas": f"{revenue / spend:.2f}" if spend else "–",
    }


def _totals_row(totals: selectors.AdTotals, ad: Ad, currency: str) -> dict:
    return {
        "ad": ad,
        "impressions": f"{totals.impressions:,.0f}",
        "clicks": f"{totals.clicks:,.0f}",
        "ctr": _pct(totals.ctr, 2),
        "spend": f"{totals.spend:,.2f}",
        "conversions": f"{totals.conversions:,.0f}",
        "cost_per_conversion": _money(totals.cost_per_conversion),
        "revenue": f"{totals.revenue:,.2f}",
        "roas": f"{totals.roas:.2f}" if totals.roas is not None else "–",
        "currency": currency,
    }


def _suggestion_lines(suggestion: BudgetSuggestion) -> list[dict]:
    return [
        {"line": line, "share": _pct(line.share), "probability_best": _pct(line.probability_best),
         "cost_per_result": _money(line.cost_per_result),
         "roas": f"{line.roas:.2f}" if line.roas is not None else "–",
         "change": line.suggested_budget - line.current_budget}
        for line in suggestion.lines.all()
    ]  # fmt: skip


def _finding_row(finding: FatigueFinding) -> dict:
    frequency = ""
    if finding.frequency_baseline and finding.frequency_recent:
        frequency = f"{finding.frequency_baseline:.1f} → {finding.frequency_recent:.1f}"
    return {
        "finding": finding,
        "metric": METRICS.get(finding.metric, finding.metric),
        "baseline": _pct(finding.baseline_rate, 2),
        "recent": _pct(finding.recent_rate, 2),
        "drop": _pct(finding.drop),
        "slope": _signed_pct(finding.slope_per_day, 1),
        "frequency": frequency,
    }


def _pct(value: float | None, decimals: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{decimals}f}%"


def _signed_pct(value: float | None, decimals: int = 0) -> str:
    return "–" if value is None else f"{value * 100:+.{decimals}f}%"


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"
