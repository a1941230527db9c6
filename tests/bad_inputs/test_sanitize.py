"""Every rendered case's sanitized copy: links dropped exactly where a warning is expected,
and nothing left in it that points outside the package (fast: no LibreOffice)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from media_pipeline.sanitize import sanitize_deck
from tests.bad_inputs.corpus import CASES, Rendered

RENDERED = [case for case in CASES if isinstance(case.expect, Rendered)]
_OUTSIDE_RELATIONSHIP = re.compile(rb'Target="[a-z][a-z0-9+.-]*:|TargetMode="[^I]', re.I)
_OUTSIDE_SVG_REFERENCE = re.compile(
    rb"(href=|url\()(?!\s*[\"']?\s*(#|data:image/(png|jpe?g|gif)))", re.I
)


@pytest.mark.parametrize("case", RENDERED, ids=[case.name for case in RENDERED])
def test_sanitized_copy_keeps_nothing_that_points_outside(case, tmp_path: Path):
    deck = case.build(tmp_path)
    sanitized = sanitize_deck(deck, tmp_path / "clean.pptx")
    if case.expect.warning:
        assert sanitized.removed_links, case.name
    else:
        assert sanitized.removed_links == (), (case.name, sanitized.removed_links)
    with zipfile.ZipFile(sanitized.path) as copy:
        for name in copy.namelist():
            data = copy.read(name)
            if name.endswith(".rels"):
                # Hyperlinks stay (only a click follows them); nothing else may leave.
                kept = re.sub(rb"<Relationship [^>]*/hyperlink\"[^>]*/>", b"", data)
                assert not _OUTSIDE_RELATIONSHIP.search(kept), (case.name, name, data[:300])
            elif b"<svg" in data[:300]:
                assert not _OUTSIDE_SVG_REFERENCE.search(data), (case.name, name, data[:300])
