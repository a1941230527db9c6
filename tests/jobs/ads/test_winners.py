from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jobs.ads.models import Ad, AdSnapshot, AnalysisRun, WinnerEntry
from jobs.ads.winners import winners_pass, winners_search
from jobs.narration.models import Job, Slide
from jobs.personas.embedding import embedding_model_name
from media_pipeline.errors import ModelNotFoundError
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

pytestmark = pytest.mark.django_db

BREAD = (
    "Bake a crusty sourdough loaf at home. Feed the starter, knead the dough, "
    "let the bread rise overnight and bake it in a hot oven."
)
PHOTOS = (
    "Your family photos are safe in the cloud. Automatic backup of every picture "
    "from your phone, encrypted storage and easy sharing."
)


def _totals(ad: Ad, *, impressions: int, clicks: int, spend: float | None = None) -> None:
    """Exact numbers for today (histories end yesterday), where a test needs them without noise."""
    AdSnapshot.objects.create(
        ad=ad, day=date.today(), impressions=impressions, clicks=clicks,
        spend=Decimal(str(impressions / 1000 * 8 if spend is None else spend)),
    )  # fmt: skip


def _ctr_campaign(owner, *, ctrs: list[float], seed_each: bool = False) -> list[Ad]:
    """A campaign of ads with 30 days of 5,000 impressions a day at the given CTRs."""
    campaign = make_campaign(owner)
    ads = []
    for index, ctr in enumerate(ctrs):
        ad = make_ad(campaign, name=f"Ad at {ctr:.3f} #{index}")
        write_history(ad, days=30, ctr=ctr, conversion_rate=0.0, seed=index if seed_each else 0)
        ads.append(ad)
    return ads


def _deck(owner, persona, notes: str, title: str = "deck.pptx") -> Job:
    job = Job.objects.create(owner=owner, title=title, deck=f"jobs/{title}", persona=persona)
    for index, sentence in enumerate(notes.split(". "), start=1):
        Slide.objects.create(job=job, index=index, source_number=index, notes=sentence)
    return job


def test_ads_with_equal_ctr_are_not_winners(user):
    ads = _ctr_campaign(user, ctrs=[0.02] * 5)

    summary = winners_pass()

    assert summary["considered"] == 5
    assert summary["winners"] == 0
    assert not Ad.objects.filter(id__in=[ad.id for ad in ads], is_winner=True).exists()


def test_clearly_higher_ctr_wins_and_a_small_sample_does_not(user):
    *_, big = _ctr_campaign(user, ctrs=[0.02] * 5 + [0.03])
    small = make_ad(big.campaign, name="Few impressions")
    # 2.5 % on 1,200 impressions: higher, but P(beats the median) is only about 0.9.
    _totals(small, impressions=1200, clicks=30)
    tiny = make_ad(big.campaign, name="Below the minimum sample")
    _totals(tiny, impressions=500, clicks=50)

    now = timezone.now()
    summary = winners_pass(now=now)

    big.refresh_from_db()
    assert big.is_winner
    assert big.winner_metric == "ctr"
    assert big.winner_probability > 0.999
    assert big.winner_lift == pytest.approx(0.5, abs=0.05)
    assert big.winner_since == now
    assert not Ad.objects.get(id=small.id).is_winner
    assert not Ad.objects.get(id=tiny.id).is_winner
    assert summary["winners"] == summary["new"] == summary["indexed"] == 1
    assert WinnerEntry.objects.filter(ad=big).exists()


def test_a_campaign_needs_two_qualifying_ads_to_have_a_winner(user):
    (alone,) = _ctr_campaign(user, ctrs=[0.05])
    make_ad(alone.campaign, name="No results yet")

    winners_pass()

    assert not Ad.objects.get(id=alone.id).is_winner


def test_conversions_per_impression_is_the_metric_when_the_campaign_converts(user):
    campaign = make_campaign(user)
    for index in range(3):
        write_history(make_ad(campaign), days=30, conversion_rate=0.05, seed=index)
    best = make_ad(campaign, name="Converts twice as often")
    write_history(best, days=30, conversion_rate=0.10, seed=9)

    winners_pass()

    best.refresh_from_db()
    assert best.is_winner
    assert best.winner_metric == "conversions_per_impression"
    assert best.winner_lift > 0.5
    results = best.winner.results
    assert results["cpa"] < results["median_cpa"]
    assert results["roas"] > results["median_roas"]
    assert "Results: Conversions per impression " in best.winner.text


@pytest.mark.parametrize(
    ("cpm", "revenue_per_conversion"),
    [(40.0, 0.0), (8.0, 5.0)],
    ids=["cost per conversion above the median", "roas below the median"],
)
def test_a_higher_conversion_rate_does_not_win_at_a_worse_cost_or_return(
    user, cpm, revenue_per_conversion
):
    campaign = make_campaign(user)
    revenue = 40.0 if revenue_per_conversion else 0.0
    for index in range(3):
        write_history(make_ad(campaign), days=30, conversion_rate=0.05,
                      revenue_per_conversion=revenue, seed=index)  # fmt: skip
    costly = make_ad(campaign, name="Converts well, pays badly")
    write_history(costly, days=30, conversion_rate=0.10, cpm=cpm,
                  revenue_per_conversion=revenue_per_conversion, seed=9)  # fmt: skip

    winners_pass()

    assert not Ad.objects.get(id=costly.id).is_winner


def test_a_winner_that_falls_back_is_unmarked_and_leaves_the_index(user):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])
    first = timezone.now() - timedelta(hours=12)
    winners_pass(now=first)
    winners_pass(now=first + timedelta(hours=6))
    winner.refresh_from_db()
    assert winner.is_winner and winner.winner_since == first  # kept while it keeps winning

    AdSnapshot.objects.filter(ad=winner).delete()
    write_history(winner, days=30, ctr=0.02, conversion_rate=0.0, seed=0)
    summary = winners_pass()

    winner.refresh_from_db()
    assert not winner.is_winner
    assert winner.winner_since is None and winner.winner_probability is None
    assert winner.winner_metric == ""
    assert not WinnerEntry.objects.filter(ad=winner).exists()
    assert summary["lost"] == 1 and summary["winners"] == 0


def test_a_paused_winner_is_unmarked(user):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])
    winners_pass()
    Ad.objects.filter(id=winner.id).update(status="paused")

    winners_pass()

    assert not Ad.objects.get(id=winner.id).is_winner
    assert not WinnerEntry.objects.filter(ad_id=winner.id).exists()


def test_index_text_holds_the_notes_persona_format_and_results(user, persona):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])
    job = _deck(user, persona, BREAD)
    Ad.objects.filter(id=winner.id).update(
        narration_job=job, preset="1080p (1920×1080)", video_duration_seconds=42.4
    )

    winners_pass()

    entry = WinnerEntry.objects.get(ad=winner)
    assert entry.text.startswith("Bake a crusty sourdough loaf at home Feed the starter")
    assert "Persona: Joe (US English)." in entry.text
    assert "Format: 1080p (1920×1080)." in entry.text
    assert "Duration: 42 s." in entry.text
    assert "Results: CTR 3.0 % vs campaign 2.0 %" in entry.text
    assert entry.owner == user
    assert entry.embedding_model == embedding_model_name()
    assert len(entry.embedding) == 256


def test_index_text_of_an_ad_without_a_video_is_its_name(user):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])

    winners_pass()

    assert WinnerEntry.objects.get(ad=winner).text.startswith(winner.name + "\n\n")


def test_results_are_refreshed_every_run_without_embedding_again(user):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])
    winners_pass()
    entry = WinnerEntry.objects.get(ad=winner)
    # A day of impressions without a click: still a winner, with a lower CTR.
    _totals(winner, impressions=20_000, clicks=0)

    summary = winners_pass()

    refreshed = WinnerEntry.objects.get(ad=winner)
    assert summary["winners"] == 1 and summary["indexed"] == 0
    assert refreshed.results["impressions"] == entry.results["impressions"] + 20_000
    assert refreshed.results["rate"] < entry.results["rate"]
    assert "Results: CTR 3.0 %" in entry.text
    assert f"Results: CTR {refreshed.results['rate'] * 100:.1f} %" in refreshed.text
    assert "Results: CTR 2." in refreshed.text
    assert refreshed.text_hash == entry.text_hash
    assert refreshed.indexed_at == entry.indexed_at
    assert list(refreshed.embedding) == list(entry.embedding)


def _winner_with_notes(owner, persona, notes: str) -> Ad:
    *_, winner = _ctr_campaign(owner, ctrs=[0.02] * 4 + [0.03])
    Ad.objects.filter(id=winner.id).update(narration_job=_deck(owner, persona, notes))
    return winner


def test_search_by_words_and_by_deck_finds_the_most_similar_winner_first(user, persona):
    bread = _winner_with_notes(user, persona, BREAD)
    photos = _winner_with_notes(user, persona, PHOTOS)
    winners_pass()

    by_words = winners_search(owner=user, text="recipe for baking bread with yeast and flour")
    deck = _deck(user, persona, "Never lose a picture again. Back up your phone's photos.")
    by_deck = winners_search(owner=user, job=deck)

    assert [match.ad_id for match in by_words] == [bread.id, photos.id]
    assert by_words[0].similarity > by_words[1].similarity
    assert [match.ad_id for match in by_deck] == [photos.id, bread.id]
    top = by_words[0]
    assert top.campaign_id == bread.campaign_id and top.metric == "ctr"
    assert top.persona == "Joe (US English)"
    assert top.snippet.startswith("Bake a crusty sourdough loaf")
    assert top.results["rate"] == pytest.approx(0.03, abs=0.001)


def test_search_never_returns_another_owners_winner(user, other_user, persona):
    mine = _winner_with_notes(user, persona, PHOTOS)
    theirs = _winner_with_notes(other_user, persona, BREAD)
    winners_pass()

    found = winners_search(owner=user, text=BREAD, limit=5)
    everyone = winners_search(owner=None, text=BREAD, limit=5)

    assert [match.ad_id for match in found] == [mine.id]
    assert [match.ad_id for match in everyone] == [theirs.id, mine.id]


def test_search_without_words_or_deck_is_refused(user):
    with pytest.raises(ValidationError):
        winners_search(owner=user, text="  ")


def test_the_run_is_recorded(user):
    _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])

    summary = winners_pass()

    run = AnalysisRun.objects.get(kind=AnalysisRun.Kind.WINNERS)
    assert run.error == ""
    assert run.finished_at is not None and run.duration_ms is not None
    assert run.summary["winners"] == 1 and run.summary["considered"] == 5
    assert summary["duration_ms"] == run.duration_ms


def test_a_missing_embedding_model_is_a_clear_error_and_the_marks_stay(user, settings, tmp_path):
    *_, winner = _ctr_campaign(user, ctrs=[0.02] * 4 + [0.03])
    settings.SLIDECAST = {**settings.SLIDECAST, "EMBEDDING_MODEL_DIR": str(tmp_path)}

    with pytest.raises(ModelNotFoundError, match="SLIDECAST_EMBEDDING_MODEL_DIR"):
        winners_pass()

    assert Ad.objects.get(id=winner.id).is_winner
    assert not WinnerEntry.objects.exists()
    assert "ModelNotFoundError" in AnalysisRun.objects.get(kind="winners").error
