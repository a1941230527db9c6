"""A persona's reference recording: upload under recorded consent, preparation, readiness.

Voice cloning speaks with someone's voice, so a recording is only taken with a consent
record (who, when, the statement they accepted) and who uploaded it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from jobs import queueing
from jobs.personas.models import Persona, VoiceReference
from jobs.storage import storage_delete_tree, storage_fetch, storage_put, work_root
from media_pipeline.errors import PipelineError
from media_pipeline.reference_audio import ReferenceLimits, prepare_reference_audio

logger = logging.getLogger("slidecast.personas")

ACCEPTED_SUFFIXES = (".wav", ".mp3", ".m4a", ".ogg")
LIMITS = ReferenceLimits()


@dataclass(frozen=True)
class Consent:
    given_by: str
    given_at: datetime
    statement: str


def voice_reference_upload(
    *, persona: Persona, recording: File, consent: Consent, uploaded_by
) -> VoiceReference:
    """Store the recording (replacing any earlier one) and queue its preparation."""
    suffix = Path(recording.name or "").suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise ValidationError(
            {"recording": f"Send a WAV, MP3, M4A or OGG recording, not {recording.name!r}."}
        )
    if recording.size > LIMITS.max_file_bytes:
        raise ValidationError(
            {"recording": f"The recording is over {LIMITS.max_file_bytes // 2**20} MB."}
        )
    if not consent.given_by.strip() or not consent.statement.strip():
        raise ValidationError(
            {"consent": "Say who consented to the use of their voice and the statement they "
                        "accepted: a voice is cloned only with consent on record."}
        )  # fmt: skip
    with transaction.atomic():
        VoiceReference.objects.filter(persona=persona).delete()
        storage_delete_tree(f"personas/{persona.id}/reference")
        reference = VoiceReference(
            persona=persona,
            uploaded_by=uploaded_by,
            consent_given_by=consent.given_by.strip()[:200],
            consent_given_at=consent.given_at,
            consent_statement=consent.statement.strip(),
        )
        reference.recording.save(f"original{suffix}", recording, save=False)
        reference.save()
        queueing.defer(queueing.PREPARE_VOICE_REFERENCE, reference_id=reference.id)
    logger.info("reference recording for persona %s uploaded", persona.name)
    return reference


def voice_reference_prepare(*, reference_id: int) -> None:
    """Make the prepared recording and store its measures; an unfit one is failed, not retried."""
    reference = VoiceReference.objects.filter(id=reference_id).first()
    if reference is None or reference.status != VoiceReference.Status.PREPARING:
        return
    with tempfile.TemporaryDirectory(prefix="slidecast-reference-", dir=work_root()) as tmp:
        folder = Path(tmp)
        source = storage_fetch(
            reference.recording.name, folder / Path(reference.recording.name).name
        )
        try:
            prepared = prepare_reference_audio(source, folder / "prepared.wav", LIMITS)
        except PipelineError as exc:
            if not exc.permanent:
                raise
            VoiceReference.objects.filter(id=reference.id).update(
                status=VoiceReference.Status.FAILED, error=exc.message
            )
            logger.warning("reference %s refused: %s", reference.id, exc.message)
            return
        name = storage_put(f"personas/{reference.persona_id}/reference/prepared.wav", prepared.path)
    VoiceReference.objects.filter(id=reference.id, status=VoiceReference.Status.PREPARING).update(
        status=VoiceReference.Status.READY,
        prepared=name,
        error="",
        duration_seconds=prepared.duration,
        peak_dbfs=prepared.peak_dbfs,
        snr_db=prepared.snr_db,
        loudness_lufs=prepared.loudness_lufs,
        prepared_at=timezone.now(),
    )
