"""Every case in the corpus gets its expected answer from the validator alone (no database)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from media_pipeline.deck import DeckLimits, validate_deck
from media_pipeline.errors import InvalidDeckError
from tests.bad_inputs.corpus import CASES, INTERNALS, Case, Refused, Rendered

REFUSED = [case for case in CASES if isinstance(case.expect, Refused)]
RENDERED = [case for case in CASES if isinstance(case.expect, Rendered)]


def _name(case: Case) -> str:
    return case.name


@pytest.mark.parametrize("case", REFUSED, ids=_name)
def test_refused_deck_gets_a_message_that_names_the_problem(case: Case, tmp_path: Path):
    with pytest.raises(InvalidDeckError) as refused:
        validate_deck(case.build(tmp_path), DeckLimits())

    message = refused.value.message
    for phrase in case.expect.contains:
        assert phrase in message
    for internal in INTERNALS:
        assert internal not in message


@pytest.mark.parametrize("case", RENDERED, ids=_name)
def test_renderable_deck_passes_with_its_visible_slides(case: Case, tmp_path: Path):
    summary = validate_deck(case.build(tmp_path), DeckLimits())

    assert len(summary.slides) == case.expect.slides


@pytest.mark.parametrize("case", CASES, ids=_name)
def test_case_builds_fast_and_small(case: Case, tmp_path: Path):
    started = time.perf_counter()
    path = case.build(tmp_path)

    assert time.perf_counter() - started < 2
    assert path.parent == tmp_path
    # Blocks really used: the file over the size limit is sparse, so it counts too.
    assert path.stat().st_blocks * 512 < 2 * 1024 * 1024


def test_corpus_is_large_and_its_names_unique():
    names = [case.name for case in CASES]

    assert len(names) == len(set(names))
    assert len(CASES) >= 45
