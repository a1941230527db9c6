"""Campaigns and ads in the admin; every change goes through the ads services, so the audit
trail records who changed a budget or a status."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect

from jobs.ads import fatigue, services
from jobs.ads.models import Ad, Campaign, FatigueFinding

VIDEO_FIELDS = ("narration_job", "media_job")


class ThroughServices(admin.ModelAdmin):
    """A model admin whose saves call a service: a refusal comes back as a message, unsaved."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # Raised by the service inside the admin's transaction, which is rolled back.
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # no service deletes campaigns or ads: set them to "ended" instead


def _changed(form: forms.ModelForm, allowed: tuple[str, ...]) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data if name in allowed}


class AdInline(admin.TabularInline):
    """The campaign's ads at a glance; each is changed on its own page (through the services)."""

    model = Ad
    extra = 0
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "name", "status", "daily_budget", "fatigue", "is_winner", "winner_probability",
    )  # fmt: skip

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(ThroughServices):
    list_display = ("name", "owner", "platform", "status", "daily_budget", "currency", "ads")
    list_filter = ("status", "platform", "currency")
    search_fields = ("name", "external_id", "utm_campaign", "owner__username")
    list_select_related = ("owner",)
    fields = ("owner", *services.CAMPAIGN_FIELDS, "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    raw_id_fields = ("owner",)
    inlines = [AdInline]

    def get_readonly_fields(self, request, obj=None):
        # A campaign stays with its owner: its ads, snapshots and conversions are theirs.
        return (*self.readonly_fields, "owner") if obj else self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ad_count=Count("ads"))

    @admin.display(description="Ads", ordering="ad_count")
    def ads(self, campaign: Campaign) -> int:
        return campaign.ad_count

    def save_model(self, request, obj, form, change) -> None:
        if change:
            fields = _changed(form, services.CAMPAIGN_FIELDS)
            # The form already set the new values; the service compares against the stored ones.
            obj.refresh_from_db(fields=list(fields))
            services.campaign_update(campaign=obj, actor=request.user, **fields)
            return
        fields = {name: form.cleaned_data[name] for name in services.CAMPAIGN_FIELDS}
        saved = services.campaign_create(
            owner=form.cleaned_data["owner"], actor=request.user, **fields
        )
        obj.pk = saved.pk


class FatigueFindingInline(admin.TabularInline):
    model = FatigueFinding
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "metric", "severity", "is_open", "alarm_day", "baseline_rate", "recent_rate", "drop",
        "days_observed", "recommendation", "last_detected_at", "resolved_at",
    )  # fmt: skip

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AdForm(forms.ModelForm):
    class Meta:
        model = Ad
        fields = ("campaign", *services.AD_FIELDS, *VIDEO_FIELDS)
        help_texts = {
            "utm_content": "The value CRM events name the ad by. Empty: one is made up.",
            "narration_job": "The narration whose video the ad runs (the campaign owner's).",
            "media_job": "Or a media job's output, e.g. a transcode (the campaign owner's).",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "utm_content" in self.fields:
            self.fields["utm_content"].required = False


@admin.register(Ad)
class AdAdmin(ThroughServices):
    form = AdForm
    list_display = (
        "name", "campaign", "status", "daily_budget", "fatigue", "is_winner",
        "winner_probability",
    )  # fmt: skip
    list_filter = ("status", "fatigue", "is_winner", "campaign__platform")
    search_fields = ("name", "external_id", "utm_content", "campaign__name")
    list_select_related = ("campaign",)
    raw_id_fields = ("campaign", *VIDEO_FIELDS)
    analysis_fields = (
        "fatigue", "fatigue_reason", "fatigue_checked_at", "is_winner", "winner_since",
        "winner_metric", "winner_probability", "winner_lift",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("campaign", *services.AD_FIELDS)}),
        ("Video", {"fields": (*VIDEO_FIELDS, "persona", "preset", "video_duration_seconds")}),
        ("Analysis (written by the periodic analyses)", {"fields": analysis_fields}),
    )
    readonly_fields = ("persona", "preset", "video_duration_seconds", *analysis_fields)
    inlines = [FatigueFindingInline]
    actions = ["check_fatigue"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "campaign") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        # Picking another video relinks the ad; clearing the field keeps the video it has.
        videos = {name: form.cleaned_data[name] for name in VIDEO_FIELDS
                  if name in form.changed_data and form.cleaned_data[name] is not None}  # fmt: skip
        if change:
            obj.refresh_from_db(fields=form.changed_data)
            services.ad_update(
                ad=obj, actor=request.user, **videos, **_changed(form, services.AD_FIELDS)
            )
            return
        saved = services.ad_create(
            campaign=form.cleaned_data["campaign"], actor=request.user, **videos,
            **{name: form.cleaned_data[name] for name in services.AD_FIELDS},
        )  # fmt: skip
        obj.pk = saved.pk

    @admin.action(description="Check fatigue now", permissions=["change"])
    def check_fatigue(self, request, queryset):
        summary = fatigue.fatigue_pass(ad_ids=list(queryset.values_list("id", flat=True)))
        counts = {key: summary.get(key, 0) for key in fatigue.SUMMARY_KEYS}
        self.message_user(
            request,
            "Checked {checked} ads: {fatigued} wearing out, {healthy} healthy, {insufficient} "
            "with too little data, {not_active} not active; {opened} findings opened, "
            "{resolved} resolved.".format(**counts),
            messages.SUCCESS,
        )
