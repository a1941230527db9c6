"""The ads pages' forms: a new campaign or ad, a snapshot CSV, a budget decision, a fresh
creative and the winners search. They check the input's shape; the services judge the rest."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from jobs.ads.models import Platform
from jobs.media import selectors as media_selectors
from jobs.media.models import MediaJob
from jobs.narration import selectors as narration_selectors
from jobs.narration.models import Job
from jobs.personas.selectors import persona_choices

_MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    platform = forms.ChoiceField(choices=Platform.choices)
    external_id = forms.CharField(
        max_length=100, required=False, label="Id on the platform (optional)",
        help_text="Snapshot rows may name their ads by the platform's ad ids.",
    )  # fmt: skip
    daily_budget = forms.DecimalField(label="Daily budget", **_MONEY)
    currency = forms.CharField(
        min_length=3, max_length=3, initial="USD", label="Currency (ISO 4217)",
        widget=forms.TextInput(attrs={"size": 4, "style": "text-transform:uppercase"}),
    )  # fmt: skip
    utm_campaign = forms.CharField(max_length=100, required=False, label="utm_campaign (optional)")

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].upper()


class SnapshotUploadForm(forms.Form):
    file = forms.FileField(
        label="Daily or hourly results (.csv)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class AdForm(forms.Form):
    name = forms.CharField(max_length=200)
    external_id = forms.CharField(max_length=100, required=False, label="Id on the platform")
    utm_content = forms.CharField(
        max_length=100, required=False, label="utm_content (empty: one is made up)",
        help_text="Links and CRM events name the ad by this value.",
    )  # fmt: skip
    daily_budget = forms.DecimalField(label="Daily budget", **_MONEY)
    video = forms.ChoiceField(
        required=False, label="The video it runs",
        help_text="A finished narration or transcode of yours.",
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        narrations = narration_selectors.job_list_for(user=user).filter(
            status=Job.Status.COMPLETED
        )[:200]
        transcodes = media_selectors.media_job_list_for(user=user).filter(
            status=MediaJob.Status.COMPLETED, operation=MediaJob.Operation.TRANSCODE
        )[:200]
        self.fields["video"].choices = [
            ("", "None (a video made elsewhere)"),
            ("Narrations", [(f"job:{j.id}", f"{j.title} · {j.persona.name}") for j in narrations]),
            ("Transcodes", [(f"media:{m.id}", m.title) for m in transcodes]),
        ]

    def clean_video(self) -> dict:
        """The ad service's video arguments: {"narration_job": …} or {"media_job": …}."""
        kind, _, video_id = self.cleaned_data["video"].partition(":")
        if not kind:
            return {}
        # The choices were the user's own finished videos; this finds one gone meanwhile.
        if kind == "job":
            video = narration_selectors.job_find_for(user=self.user, job_id=video_id)
        else:
            video = media_selectors.media_job_find_for(user=self.user, media_job_id=video_id)
        if video is None:
            raise forms.ValidationError("That video is no longer there; choose another.")
        return {"narration_job": video} if kind == "job" else {"media_job": video}

    def ad_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "external_id": data["external_id"],
            "utm_content": data["utm_content"], "daily_budget": data["daily_budget"],
            **data["video"],
        }  # fmt: skip


class SuggestionDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(
        max_length=500, required=False, label="Note (optional)",
        widget=forms.TextInput(attrs={"placeholder": "Why, for whoever reads the audit trail"}),
    )  # fmt: skip


class RefreshCreativeForm(forms.Form):
    persona = forms.ModelChoiceField(queryset=persona_choices(), empty_label=None, label="Voice")
    resolution = forms.ChoiceField(
        choices=[("", "Same as before"), *Job.Resolution.choices], required=False
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persona"].queryset = persona_choices(user=user).order_by("name")


class WinnersSearchForm(forms.Form):
    q = forms.CharField(
        max_length=500, required=False, label="Words",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "onboarding, pricing …"}),
    )  # fmt: skip
    job = forms.ModelChoiceField(
        queryset=Job.objects.none(), required=False, label="Or like this deck",
        empty_label="No deck",
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job"].queryset = narration_selectors.job_list_for(user=user).order_by(
            "-created_at"
        )

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not data.get("q", "").strip() and not data.get("job"):
            raise forms.ValidationError("Type some words, or choose one of your decks.")
        return data
