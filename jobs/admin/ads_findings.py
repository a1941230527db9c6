"""What the ads analyses found, in the admin: fatigue findings, analysis runs and winners,
with a "winning ads like this" search over everyone's winners."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.urls import path

from jobs.ads import winners
from jobs.ads.models import AnalysisRun, FatigueFinding, WinnerEntry
from jobs.narration.models import Job

SEARCH_LIMIT = 20


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the analyses and deliveries write: operators look, they do not edit."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


@admin.register(FatigueFinding)
class FatigueFindingAdmin(ReadOnlyAdmin):
    list_display = ("ad", "campaign", "metric", "severity", "is_open", "evidence",
                    "recommendation", "last_detected_at")  # fmt: skip
    list_filter = ("is_open", "severity", "metric", "last_detected_at")
    search_fields = ("ad__name", "ad__campaign__name", "recommendation")
    list_select_related = ("ad", "ad__campaign")
    date_hierarchy = "last_detected_at"

    @admin.display(description="Campaign", ordering="ad__campaign__name")
    def campaign(self, finding: FatigueFinding) -> str:
        return finding.ad.campaign.name

    @admin.display(description="Evidence")
    def evidence(self, finding: FatigueFinding) -> str:
        text = (
            f"{finding.metric} {_percent(finding.baseline_rate)} → "
            f"{_percent(finding.recent_rate)} (−{finding.drop * 100:.0f} %), "
            f"{finding.slope_per_day * 100:+.1f} %/day, alarm since {finding.alarm_day}, "
            f"CUSUM {finding.cusum:.1f}, {finding.days_observed} days"
        )
        if finding.frequency_baseline is not None and finding.frequency_recent is not None:
            text += f"; frequency {finding.frequency_baseline:.1f} → {finding.frequency_recent:.1f}"
        return text


@admin.register(AnalysisRun)
class AnalysisRunAdmin(ReadOnlyAdmin):
    list_display = ("kind", "started_at", "finished_at", "duration_ms", "summary_line", "error")
    list_filter = ("kind", "started_at")
    date_hierarchy = "started_at"

    @admin.display(description="Summary")
    def summary_line(self, run: AnalysisRun) -> str:
        return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in run.summary.items())


class WinnerSearchForm(forms.Form):
    text = forms.CharField(required=False, max_length=2000, label="Words")
    job = forms.ModelChoiceField(
        queryset=Job.objects.all(),
        required=False,
        widget=forms.TextInput(attrs={"size": 40}),
        label="Or a narration job id",
        help_text="Its deck's notes are the words searched for.",
        error_messages={"invalid_choice": "There is no narration job with that id."},
    )


@admin.register(WinnerEntry)
class WinnerEntryAdmin(ReadOnlyAdmin):
    list_display = ("ad", "campaign", "owner", "metric", "probability", "lift", "indexed_at")
    list_filter = ("ad__winner_metric", "indexed_at")
    search_fields = ("ad__name", "ad__campaign__name", "owner__username", "text")
    list_select_related = ("ad", "ad__campaign", "owner")
    exclude = ("embedding",)
    change_list_template = "admin/ads/winnerentry_change_list.html"

    @admin.display(description="Campaign", ordering="ad__campaign__name")
    def campaign(self, entry: WinnerEntry) -> str:
        return entry.ad.campaign.name

    @admin.display(description="Metric", ordering="ad__winner_metric")
    def metric(self, entry: WinnerEntry) -> str:
        return entry.ad.winner_metric

    @admin.display(description="P(best)", ordering="ad__winner_probability")
    def probability(self, entry: WinnerEntry) -> str:
        return "–" if entry.ad.winner_probability is None else f"{entry.ad.winner_probability:.3f}"

    @admin.display(description="Lift", ordering="ad__winner_lift")
    def lift(self, entry: WinnerEntry) -> str:
        return "–" if entry.ad.winner_lift is None else f"{entry.ad.winner_lift * 100:+.0f} %"

    def get_urls(self):
        search = self.admin_site.admin_view(self.search_view)
        return [path("search/", search, name="jobs_winnerentry_search"), *super().get_urls()]

    def search_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = WinnerSearchForm(request.GET or None)
        matches = None
        if form.is_bound and form.is_valid():
            try:
                matches = winners.winners_search(
                    owner=None, text=form.cleaned_data["text"], job=form.cleaned_data["job"],
                    limit=SEARCH_LIMIT,
                )  # fmt: skip
            except ValidationError as exc:
                form.add_error(None, exc)
        owners = {}
        if matches:
            entries = self.get_queryset(request).filter(ad_id__in=[m.ad_id for m in matches])
            owners = {entry.ad_id: entry.owner for entry in entries}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Search winners",
            "form": form,
            "rows": [(match, owners.get(match.ad_id)) for match in matches or []],
            "searched": matches is not None,
        }
        return TemplateResponse(request, "admin/ads/winner_search.html", context)
