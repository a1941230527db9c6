"""What flows into the ads domain, in the admin: the platforms' daily snapshots (with a CSV
upload for an owner) and the CRM's conversions with their per-event delivery log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jobs.admin.ads_findings import ReadOnlyAdmin
from jobs.ads import crm, snapshots
from jobs.ads.models import AdSnapshot, CrmConversion, CrmEventItem

# The error report lists this many rows; the counts cover them all.
SHOWN_ERRORS = 500


class SnapshotUploadForm(forms.Form):
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(ad_campaigns__isnull=False).distinct(),
        help_text="The file's ads (ad_id or ad_external_id) are looked up among this user's ads.",
    )
    file = forms.FileField(
        label="CSV file",
        help_text="A header row naming the columns: " + ", ".join(snapshots.SNAPSHOT_FIELDS),
    )


@admin.register(AdSnapshot)
class AdSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("ad", "campaign", "day", "hour", "impressions", "reach", "clicks", "spend",
                    "video_views", "conversions", "revenue", "updated_at")  # fmt: skip
    list_filter = ("day", "ad__campaign__platform")
    search_fields = ("ad__name", "ad__external_id", "ad__campaign__name")
    list_select_related = ("ad", "ad__campaign")
    date_hierarchy = "day"
    # Millions of rows: no second count of the whole table, no sort through the ads' names.
    ordering = ("-day", "-hour")
    show_full_result_count = False
    change_list_template = "admin/ads/adsnapshot_change_list.html"

    @admin.display(description="Campaign", ordering="ad__campaign__name")
    def campaign(self, snapshot: AdSnapshot) -> str:
        return snapshot.ad.campaign.name

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        return [path("upload/", upload, name="jobs_adsnapshot_upload"), *super().get_urls()]

    def upload_view(self, request):
        if not request.user.has_perm("jobs.add_adsnapshot"):
            raise PermissionDenied
        form = SnapshotUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = snapshots.snapshots_ingest_csv(
                    owner=form.cleaned_data["owner"], upload=form.cleaned_data["file"]
                )
            except ValidationError as exc:
                form.add_error("file", " ".join(exc.messages))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Upload snapshots (CSV)",
            "form": form,
            "report": report,
            "errors_shown": report.errors[:SHOWN_ERRORS] if report else [],
        }
        return TemplateResponse(request, "admin/ads/snapshot_upload.html", context)


class MatchedFilter(admin.SimpleListFilter):
    title = "attributed to an ad"
    parameter_name = "matched"
    ad_path = "ad"

    def lookups(self, request, model_admin):
        return (("yes", "Matched"), ("no", "Unmatched"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(**{f"{self.ad_path}__isnull": self.value() == "no"})
        return queryset


class ConversionMatchedFilter(MatchedFilter):
    """An unmatched event's conversion may have been matched since (a later event, a rematch)."""

    title = "conversion attributed now"
    ad_path = "conversion__ad"


class RematchButton:
    """The "Match unmatched conversions again" button's view, shared by both CRM changelists."""

    def get_urls(self):
        rematch = self.admin_site.admin_view(require_POST(self.rematch_view))
        name = f"{self.opts.app_label}_{self.opts.model_name}_rematch"
        return [path("rematch/", rematch, name=name), *super().get_urls()]

    def rematch_view(self, request):
        if not request.user.has_perm("jobs.change_crmconversion"):
            raise PermissionDenied
        matched = crm.crm_rematch()
        self.message_user(
            request, f"Matched {matched} unmatched conversions to ads.", messages.SUCCESS
        )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return redirect(back)


@admin.register(CrmConversion)
class CrmConversionAdmin(RematchButton, ReadOnlyAdmin):
    list_display = ("__str__", "kind", "ad", "counts", "revenue", "currency", "occurred_at",
                    "last_event_at")  # fmt: skip
    list_filter = ("kind", "counts", MatchedFilter, "source", "occurred_at")
    search_fields = ("object_id", "contact_id", "ad__name", "ad__utm_content")
    list_select_related = ("ad",)
    date_hierarchy = "occurred_at"
    change_list_template = "admin/ads/crm_change_list.html"


@admin.register(CrmEventItem)
class CrmEventItemAdmin(RematchButton, ReadOnlyAdmin):
    list_display = ("processed_at", "source", "event_id", "subscription_type", "outcome",
                    "detail", "conversion", "ad_now", "delivery")  # fmt: skip
    list_filter = ("outcome", ConversionMatchedFilter, "source", "subscription_type",
                   "processed_at")  # fmt: skip
    search_fields = ("event_id", "detail")
    list_select_related = ("conversion", "conversion__ad")
    date_hierarchy = "processed_at"
    change_list_template = "admin/ads/crm_change_list.html"

    @admin.display(description="Ad now")
    def ad_now(self, item: CrmEventItem) -> str:
        ad = item.conversion.ad if item.conversion else None
        return ad.name if ad else "–"

    @admin.display(description="Inbound delivery", ordering="inbound_event")
    def delivery(self, item: CrmEventItem) -> str:
        url = reverse("admin:jobs_inboundevent_change", args=[item.inbound_event_id])
        return format_html('<a href="{}">#{}</a>', url, item.inbound_event_id)
