"""Every model of the app, gathered where Django looks for them; each lives in its domain."""

from jobs.access.models import ApiRateWindow, ApiToken, IdempotencyKey
from jobs.ads.models import (
    Ad,
    AdsAuditEntry,
    AdSnapshot,
    AnalysisRun,
    BudgetSuggestion,
    BudgetSuggestionLine,
    Campaign,
    CrmConversion,
    CrmEventItem,
    FatigueFinding,
    WinnerEntry,
)
from jobs.integrations.models import InboundEvent, WebhookAttempt, WebhookDelivery, WebhookSecret
from jobs.media.models import MediaArtifact, MediaBatch, MediaJob
from jobs.narration.models import CachedArtifact, CachedPiece, Job, Slide, deck_upload_path
from jobs.operations.models import DeadLetter, Incident, QueuePause, ResourceSample, WorkerHost
from jobs.personas.models import (
    KnowledgeDocument,
    KnowledgePart,
    KnowledgeSegment,
    Persona,
    PronunciationEntry,
    VoiceReference,
)

# Migration 0001 refers to the deck's upload path by this name.
_deck_path = deck_upload_path

__all__ = [
    "Ad",
    "AdsAuditEntry",
    "AdSnapshot",
    "AnalysisRun",
    "BudgetSuggestion",
    "BudgetSuggestionLine",
    "Campaign",
    "CrmConversion",
    "CrmEventItem",
    "FatigueFinding",
    "WinnerEntry",
    "ApiRateWindow",
    "ApiToken",
    "DeadLetter",
    "IdempotencyKey",
    "InboundEvent",
    "Incident",
    "CachedArtifact",
    "CachedPiece",
    "Job",
    "KnowledgeDocument",
    "KnowledgePart",
    "KnowledgeSegment",
    "MediaArtifact",
    "MediaBatch",
    "MediaJob",
    "Persona",
    "PronunciationEntry",
    "QueuePause",
    "ResourceSample",
    "Slide",
    "VoiceReference",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSecret",
    "WorkerHost",
]
