"""Reference recordings for voice cloning: consent first, prepared on a real worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from jobs.access.services import api_token_create
from jobs.models import VoiceReference
from jobs.personas import voice
from jobs.personas.selectors import persona_can_clone
from jobs.worker.inprocess import in_process_worker
from media_pipeline.audio import read_wav, write_wav
from tests.conftest import clear_queue
from tests.media import spoken_take

CONSENT = voice.Consent(
    given_by="Joe Example",
    given_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    statement="I agree that Slidecast may speak with a voice made from this recording.",
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """About eight seconds of a real voice (Piper), with a second of silence after it."""
    return spoken_take(tmp_path_factory.mktemp("voice") / "take.wav", padding_seconds=1.0)


def _upload(persona, user, path: Path, *, consent=CONSENT, name: str = "take.wav"):
    with path.open("rb") as handle:
        return voice.voice_reference_upload(
            persona=persona, recording=File(handle, name=name), consent=consent, uploaded_by=user
        )


def test_no_recording_is_taken_without_consent_or_in_another_format(db, persona, user, recording):
    no_consent = voice.Consent(given_by=" ", given_at=CONSENT.given_at, statement="yes")
    with pytest.raises(ValidationError, match="only with consent on record"):
        _upload(persona, user, recording, consent=no_consent)
    with pytest.raises(ValidationError, match="WAV, MP3, M4A or OGG"):
        _upload(persona, user, recording, name="take.exe")
    assert not VoiceReference.objects.exists()


def test_a_worker_prepares_the_recording_and_the_persona_can_then_clone(
    transactional_db, persona, user, recording
):
    clear_queue()
    reference = _upload(persona, user, recording)
    assert reference.status == VoiceReference.Status.PREPARING
    assert not persona_can_clone(persona=persona)
    with in_process_worker(queues=["cpu"]):
        deadline = time.monotonic() + 60
        while reference.status == VoiceReference.Status.PREPARING:
            assert time.monotonic() < deadline, "the recording was not prepared in 60 s"
            time.sleep(0.2)
            reference.refresh_from_db()
    assert reference.status == VoiceReference.Status.READY, reference.error
    assert 6 < reference.duration_seconds < 10
    assert reference.snr_db > 20 and reference.peak_dbfs <= 0
    assert default_storage.exists(reference.prepared.name)
    assert reference.consent_given_by == "Joe Example" and reference.uploaded_by == user
    assert persona_can_clone(persona=persona)


def test_an_unfit_recording_fails_with_its_reason_and_is_not_retried(
    db, persona, user, tmp_path, recording
):
    short = tmp_path / "short.wav"
    samples, rate = read_wav(recording)
    write_wav(short, samples[: rate * 3], rate)
    reference = _upload(persona, user, short)
    voice.voice_reference_prepare(reference_id=reference.id)  # what the task runs
    reference.refresh_from_db()
    assert reference.status == VoiceReference.Status.FAILED
    assert "too short" in reference.error and "6 to 60 s" in reference.error
    assert not persona_can_clone(persona=persona)


def test_staff_upload_through_the_api_and_everyone_follows_it(client, db, persona, user, recording):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_user("root", password="x", is_staff=True)
    _, staff_token = api_token_create(user=staff, name="staff")
    _, token = api_token_create(user=user, name="user")
    url = f"/api/personas/{persona.id}/reference"
    form = {
        "consent_given_by": "Joe Example",
        "consent_given_at": "2026-11-30T09:00:00Z",
        "consent_statement": CONSENT.statement,
    }
    with recording.open("rb") as handle:
        refused = client.post(url, {**form, "recording": handle},
                              HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip
    assert refused.status_code == 403
    with recording.open("rb") as handle:
        accepted = client.post(url, {**form, "recording": handle},
                               HTTP_AUTHORIZATION=f"Bearer {staff_token}")  # fmt: skip
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["status"] == "preparing" and accepted.json()["can_clone"] is False
    followed = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert followed["consent_given_by"] == "Joe Example"
