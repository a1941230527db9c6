"""The persona rules, which the API and the admin share."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from jobs.errors import RequestRefused
from jobs.personas import knowledge, services
from jobs.personas.models import Persona
from tests.conftest import submit_deck


def test_a_taken_name_is_refused_as_a_conflict(db, persona):
    with pytest.raises(RequestRefused) as refused:
        services.persona_create(name=persona.name)
    assert (refused.value.status, refused.value.code) == (409, "name_taken")
    assert Persona.objects.filter(name=persona.name).count() == 1


def test_update_changes_only_the_given_fields_and_checks_them(db):
    ava = services.persona_create(name="Ava", speaking_rate=1.1)
    services.persona_update(persona=ava, language="en-us", speaking_rate=None)
    ava.refresh_from_db()
    assert (ava.language, ava.voice, ava.speaking_rate) == ("en-US", "en_US-joe-medium", 1.1)
    with pytest.raises(ValidationError, match="2.0"):
        services.persona_update(persona=ava, speaking_rate=5.0)
    ava.refresh_from_db()
    assert ava.speaking_rate == 1.1


def test_a_persona_in_use_is_kept_and_the_refusal_says_to_archive_it(db, user, persona, deck_path):
    submit_deck(deck_path([("One", "Hello.")]), user, persona)
    with pytest.raises(RequestRefused) as refused:
        services.persona_delete(persona=persona)
    assert (refused.value.status, refused.value.code) == (409, "persona_in_use")
    assert "archive it instead" in refused.value.message
    assert Persona.objects.filter(id=persona.id).exists()


def test_an_unused_persona_is_deleted(db):
    unused = services.persona_create(name="Unused")
    services.persona_delete(persona=unused)
    assert not Persona.objects.filter(id=unused.id).exists()


def test_the_lexicon_is_replaced_whole_or_not_at_all(db, persona):
    services.persona_lexicon_replace(persona=persona, entries=[("SQL", "sequel"), ("k8s", "kates")])
    with pytest.raises(ValidationError, match="listed twice"):
        services.persona_lexicon_replace(
            persona=persona, entries=[("nginx", "engine x"), ("NGINX", "en jinx")]
        )
    with pytest.raises(ValidationError, match="1 to 100 characters"):
        services.persona_lexicon_replace(persona=persona, entries=[("x" * 101, "y")])
    assert sorted(persona.pronunciations.values_list("phrase", "say")) == [
        ("SQL", "sequel"), ("k8s", "kates"),
    ]  # fmt: skip


def test_no_voice_means_the_engine_voice_for_the_language(db):
    ava = services.persona_create(name="Ava", language="en-GB")
    assert (ava.language, ava.voice) == ("en-GB", "en_US-joe-medium")  # nearest: same language


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"language": "english"}, "language", "'english' is not a BCP 47 language tag"),
        ({"voice": "en_US-ava-medium"}, "voice", "no voice 'en_US-ava-medium' here; its voices: "
                                                 "en_US-joe-medium"),
        ({"language": "de-DE"}, "voice", "has no voice for de-DE here (en_US-joe-medium)"),
    ],
)  # fmt: skip
def test_a_voice_or_language_the_engine_cannot_speak_is_refused_with_the_choices(
    db, fields, field, message
):
    with pytest.raises(ValidationError) as refused:
        services.persona_create(name="Nobody", **fields)
    assert message in " ".join(refused.value.message_dict[field])
    assert not Persona.objects.filter(name="Nobody").exists()


def test_an_existing_persona_can_be_archived_even_if_its_voice_is_gone(db, persona):
    Persona.objects.filter(id=persona.id).update(voice="en_US-uninstalled-low")
    persona.refresh_from_db()
    knowledge.persona_archive(persona=persona)
    persona.refresh_from_db()
    assert persona.status == Persona.Status.ARCHIVED
