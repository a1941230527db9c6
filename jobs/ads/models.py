"""Ads: campaigns and the ads that run Slidecast's videos, their daily metrics, CRM
conversions, and what the analyses found (fatigue, winners, budget suggestions)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from media_pipeline.embeddings import EMBEDDING_DIMENSIONS


class Platform(models.TextChoices):
    META = "meta", "Meta (Facebook, Instagram)"
    GOOGLE = "google", "Google Ads"
    YOUTUBE = "youtube", "YouTube"
    TIKTOK = "tiktok", "TikTok"
    LINKEDIN = "linkedin", "LinkedIn"
    OTHER = "other", "Other"


class DeliveryStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ENDED = "ended", "Ended"


class Campaign(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ad_campaigns"
    )
    name = models.CharField(max_length=200)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.META)
    external_id = models.CharField(max_length=100, blank=True, help_text="Id on the platform.")
    status = models.CharField(max_length=20, choices=DeliveryStatus, default=DeliveryStatus.ACTIVE)
    daily_budget = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217 code.")
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    utm_campaign = models.CharField(
        max_length=100, blank=True, help_text="The utm_campaign value its links carry."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "platform", "external_id"],
                condition=~Q(external_id=""),
                name="one_campaign_per_platform_id",
            ),
            models.CheckConstraint(condition=Q(daily_budget__gte=0), name="campaign_budget_gte_0"),
        ]

    def __str__(self) -> str:
        return self.name


class Ad(models.Model):
    class Fatigue(models.TextChoices):
        UNCHECKED = "unchecked", "Not checked yet"
        HEALTHY = "healthy", "Healthy"
        FATIGUED = "fatigued", "Wearing out"
        INSUFFICIENT = "insufficient_data", "Too little data"
        NOT_ACTIVE = "not_active", "Not active"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ads")
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True, help_text="Id on the platform.")
    status = models.CharField(max_length=20, choices=DeliveryStatus, default=DeliveryStatus.ACTIVE)
    daily_budget = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    # CRM events name the ad by this value (utm_content), or by the ad's id.
    utm_content = models.CharField(max_length=100, unique=True)
    # The Slidecast video the ad runs: a narration, or a media job's output (a transcode).
    _linked = {"null": True, "blank": True, "on_delete": models.SET_NULL, "related_name": "ads"}
    narration_job = models.ForeignKey("jobs.Job", **_linked)
    media_job = models.ForeignKey("jobs.MediaJob", **_linked)
    persona = models.ForeignKey("jobs.Persona", **_linked)
    preset = models.CharField(max_length=100, blank=True, help_text="Format the video was made in.")
    video_duration_seconds = models.FloatField(null=True, blank=True)
    fatigue = models.CharField(max_length=20, choices=Fatigue.choices, default=Fatigue.UNCHECKED)
    fatigue_reason = models.CharField(max_length=300, blank=True)
    fatigue_checked_at = models.DateTimeField(null=True, blank=True)
    is_winner = models.BooleanField(default=False)
    winner_since = models.DateTimeField(null=True, blank=True)
    winner_metric = models.CharField(max_length=30, blank=True)
    winner_probability = models.FloatField(null=True, blank=True)
    winner_lift = models.FloatField(null=True, blank=True, help_text="Rate / campaign median − 1.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "external_id"],
                condition=~Q(external_id=""),
                name="one_ad_per_campaign_external_id",
            ),
            models.CheckConstraint(condition=Q(daily_budget__gte=0), name="ad_budget_gte_0"),
        ]
        indexes = [models.Index(fields=["status"], name="ad_status")]

    def __str__(self) -> str:
        return self.name


class AdSnapshot(models.Model):
    """An ad's results for one day (hour empty) or one hour of a day, as the platform reports them.

    A day is reported whole or by the hour, never both, so summing a day never counts twice.
    """

    id = models.BigAutoField(primary_key=True)
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="snapshots")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField(null=True, blank=True)
    impressions = models.BigIntegerField(default=0)
    reach = models.BigIntegerField(null=True, blank=True, help_text="Unique people reached.")
    clicks = models.BigIntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    video_views = models.BigIntegerField(default=0)
    avg_watch_seconds = models.FloatField(null=True, blank=True)
    completion_rate = models.FloatField(null=True, blank=True)
    conversions = models.BigIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["ad", "day", "hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["ad", "day", "hour"], nulls_distinct=False, name="one_snapshot_per_period"
            ),
            models.CheckConstraint(
                condition=Q(clicks__lte=models.F("impressions")), name="snapshot_clicks_lte_imps"
            ),
            models.CheckConstraint(condition=Q(spend__gte=0), name="snapshot_spend_gte_0"),
            models.CheckConstraint(condition=Q(hour__lte=23), name="snapshot_hour_lte_23"),
        ]

    def __str__(self) -> str:
        hour = f" {self.hour:02d}:00" if self.hour is not None else ""
        return f"{self.ad_id} {self.day}{hour}"


class CrmConversion(models.Model):
    """A lead (a contact) or a purchase (a won deal) from the CRM, attributed to an ad or not.

    Later events about the same CRM object update it; an event older than the one applied
    last is ignored, so events may arrive in any order.
    """

    class Kind(models.TextChoices):
        LEAD = "lead", "Lead (contact created)"
        PURCHASE = "purchase", "Purchase (deal won)"

    source = models.CharField(max_length=50)
    object_type = models.CharField(max_length=20)
    object_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    ad = models.ForeignKey(
        Ad, null=True, blank=True, on_delete=models.SET_NULL, related_name="crm_conversions"
    )
    counts = models.BooleanField(default=True, help_text="False for a deal not (or no longer) won.")
    revenue = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    last_event_at = models.DateTimeField(help_text="When the newest event applied happened.")
    attribution = models.JSONField(default=dict, blank=True, help_text="Ad id and UTM seen.")
    contact_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "object_type", "object_id"], name="one_conversion_per_crm_object"
            )
        ]
        indexes = [models.Index(fields=["ad", "occurred_at"], name="crm_conversion_ad_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source}:{self.object_id}"


class CrmEventItem(models.Model):
    """One event of an inbound delivery and what it became (the delivery log)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied to an ad"
        UNMATCHED = "unmatched", "No ad matched"
        STALE = "stale", "Older than what was applied"
        DUPLICATE = "duplicate", "Seen before"
        IGNORED = "ignored", "Not about conversions"
        INVALID = "invalid", "Malformed"

    inbound_event = models.ForeignKey(
        "jobs.InboundEvent", on_delete=models.CASCADE, related_name="crm_items"
    )
    source = models.CharField(max_length=50)
    event_id = models.CharField(max_length=255)
    subscription_type = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    detail = models.CharField(max_length=500)
    conversion = models.ForeignKey(
        CrmConversion, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at", "-id"]
        constraints = [
            # A duplicate item is logged with the delivery it came in but no second time per id.
            models.UniqueConstraint(
                fields=["source", "event_id"],
                condition=~Q(outcome="duplicate"),
                name="one_crm_item_per_event_id",
            )
        ]
        indexes = [models.Index(fields=["outcome"], name="crm_item_outcome")]

    def __str__(self) -> str:
        return f"{self.source} event {self.event_id}: {self.outcome}"


class FatigueFinding(models.Model):
    class Severity(models.TextChoices):
        WARNING = "warning", "Warning"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="fatigue_findings")
    metric = models.CharField(max_length=30)
    severity = models.CharField(max_length=20, choices=Severity.choices)
    is_open = models.BooleanField(default=True)
    first_detected_at = models.DateTimeField()
    last_detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    alarm_day = models.DateField(help_text="The first day the CUSUM crossed its threshold.")
    baseline_rate = models.FloatField()
    recent_rate = models.FloatField()
    drop = models.FloatField(help_text="1 − recent / baseline.")
    slope_per_day = models.FloatField(help_text="Relative change of the rate per day, recent days.")
    cusum = models.FloatField()
    days_observed = models.PositiveIntegerField()
    frequency_baseline = models.FloatField(null=True, blank=True)
    frequency_recent = models.FloatField(null=True, blank=True)
    recommendation = models.CharField(max_length=500)

    class Meta:
        ordering = ["-last_detected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["ad", "metric"],
                condition=Q(is_open=True),
                name="one_open_finding_per_metric",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ad} {self.metric} {self.severity}"


class WinnerEntry(models.Model):
    """A winning ad's words, persona, format and results, embedded for "ads like this" search."""

    ad = models.OneToOneField(Ad, primary_key=True, on_delete=models.CASCADE, related_name="winner")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    embedding_model = models.CharField(max_length=100)
    results = models.JSONField(default=dict)
    indexed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "winner entries"
        indexes = [
            HnswIndex(
                name="winner_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            )  # fmt: skip
        ]

    def __str__(self) -> str:
        return f"winner {self.ad}"


class AnalysisRun(models.Model):
    class Kind(models.TextChoices):
        FATIGUE = "fatigue", "Fatigue detection"
        WINNERS = "winners", "Winner indexing"
        BUDGETS = "budgets", "Budget suggestions"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    summary = models.JSONField(default=dict)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.started_at:%Y-%m-%d %H:%M}"


class BudgetSuggestion(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded by a newer one"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="suggestions")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    total_budget = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=200)
    metric = models.CharField(max_length=30)
    window_days = models.PositiveSmallIntegerField()
    summary = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign"], condition=Q(status="pending"), name="one_pending_suggestion"
            )
        ]

    def __str__(self) -> str:
        return f"budget for {self.campaign} ({self.created_at:%Y-%m-%d})"


class BudgetSuggestionLine(models.Model):
    suggestion = models.ForeignKey(BudgetSuggestion, on_delete=models.CASCADE, related_name="lines")
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="+")
    current_budget = models.DecimalField(max_digits=14, decimal_places=2)
    suggested_budget = models.DecimalField(max_digits=14, decimal_places=2)
    share = models.FloatField()
    probability_best = models.FloatField(null=True, blank=True)
    cost_per_result = models.FloatField(null=True, blank=True)
    roas = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["-suggested_budget"]

    def __str__(self) -> str:
        return f"{self.ad}: {self.suggested_budget}"


class AdsAuditEntry(models.Model):
    """Who decided what about budgets and ads, and when: kept when the objects change."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=50)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit"
    )
    suggestion = models.ForeignKey(
        BudgetSuggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit"
    )
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "ads audit entries"

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} at {self.at:%Y-%m-%d %H:%M}"
