"""Fatigue detection on generated histories of a known shape, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import DataError

from jobs.ads.fatigue import DROP_Z, MIN_RECENT_DAYS, fatigue_pass
from jobs.ads.models import Ad, AnalysisRun, FatigueFinding
from jobs.models import Job
from tests.jobs.ads.factories import make_ad, make_campaign, write_history

END = date(2025, 6, 30)
DAYS = 60
FIRST = END - timedelta(days=DAYS - 1)


def run_after(index: int, **options) -> dict:
    """Run the pass on the morning after day `index` of the histories: it sees days 0..index."""
    now = datetime.combine(FIRST + timedelta(days=index + 1), time(6), tzinfo=UTC)
    return fatigue_pass(now=now, **options)


def index_of(day: date) -> int:
    return (day - FIRST).days


def decay(start: int, per_day: float, rate: float = 0.02) -> Callable[[int], float]:
    return lambda i: rate if i < start else rate * (1 - per_day) ** (i - start + 1)


def step(at: int, drop: float, rate: float = 0.02) -> Callable[[int], float]:
    return lambda i: rate if i < at else rate * (1 - drop)


def expected_days(ctr: Callable[[int], float], *, impressions: int, ads: dict) -> tuple[int, int]:
    """Return the day indexes at which the noise-free history raises the CUSUM alarm and at
    which it first meets every rule of jobs/ads/fatigue.py (binomial variance, φ = 1)."""
    baseline, k, h = (
        ads["FATIGUE_BASELINE_DAYS"],
        ads["FATIGUE_CUSUM_ALLOWANCE"],
        ads["FATIGUE_CUSUM_THRESHOLD"],
    )
    rates = [ctr(i) for i in range(DAYS)]
    p0 = sum(rates[:baseline]) / baseline
    sd = (impressions * p0 * (1 - p0)) ** 0.5
    cusum, since_zero, alarm = 0.0, 0, None
    for day in range(baseline, DAYS):
        cusum = min(0.0, cusum + impressions * (rates[day] - p0) / sd + k)
        since_zero = 0 if cusum == 0 else since_zero + 1
        alarm = day if cusum <= -h and alarm is None else alarm
        window = min(ads["FATIGUE_RECENT_DAYS"], max(MIN_RECENT_DAYS, since_zero))
        recent = sum(rates[day - window + 1 : day + 1]) / window
        error = (p0 * (1 - p0) * (1 / (baseline * impressions) + 1 / (window * impressions))) ** 0.5
        dropped = 1 - recent / p0 >= ads["FATIGUE_MIN_DROP"]
        if cusum <= -h and dropped and (recent - p0) / error <= -DROP_Z:
            return alarm, day
    raise AssertionError("the history never meets the rules")


def percent(rate: float) -> str:
    """A rate as the sentences show it: "2.0 %", "1.87 %"."""
    text = f"{rate * 100:.2f}"
    return (text[:-1] if text.endswith("0") else text) + " %"


@pytest.fixture
def campaign(user):
    return make_campaign(user)


STEADY_SHAPES = [
    {"impressions": 5000, "ctr": 0.02},
    {"impressions": 5000, "ctr": 0.02, "noise": 0.15},
    {"impressions": 50000, "ctr": 0.01, "noise": 0.15},
    {"impressions": 800, "ctr": 0.03, "conversion_rate": 0.2},
    {"impressions": 20000, "ctr": 0.015, "noise": 0.3},
]


@pytest.mark.parametrize("shape", STEADY_SHAPES, ids=lambda shape: str(shape))
def test_steady_ads_are_never_flagged(campaign, shape):
    ads = [make_ad(campaign) for _ in range(12)]
    for seed, ad in enumerate(ads):
        write_history(ad, days=90, end=END + timedelta(days=30), seed=seed, **shape)
    fatigued = 0
    for index in range(10, 120, 2):
        fatigued += run_after(index)["fatigued"]
    assert fatigued == 0
    assert not FatigueFinding.objects.exists()
    assert set(Ad.objects.values_list("fatigue", flat=True)) == {"healthy"}


def test_decaying_ctr_is_flagged_within_the_expected_days(campaign, settings):
    shape = decay(start=14, per_day=0.04)
    expected_alarm, expected_flag = expected_days(shape, impressions=5000, ads=settings.ADS)
    ads = [make_ad(campaign) for _ in range(5)]
    for seed, ad in enumerate(ads):
        write_history(ad, days=DAYS, end=END, ctr=shape, seed=seed)

    flagged_on = {}
    for index in range(10, DAYS):
        run_after(index)
        for ad_id in Ad.objects.filter(fatigue="fatigued").values_list("id", flat=True):
            flagged_on.setdefault(ad_id, index)

    assert 18 <= expected_alarm <= expected_flag <= 26  # the oracle itself is sane
    assert set(flagged_on) == {ad.id for ad in ads}
    for ad in ads:
        assert abs(flagged_on[ad.id] - expected_flag) <= 3, (ad.name, flagged_on[ad.id])
        finding = FatigueFinding.objects.get(ad=ad, metric="ctr", is_open=True)
        assert abs(index_of(finding.alarm_day) - expected_alarm) <= 3


@pytest.mark.parametrize(
    ("impressions", "expected", "flagged_by"),
    # The step is on day 30. At 100 clicks a day most ads are flagged on day 32, all by 34
    # (30 seeds tried); at 400 clicks a day on day 31, all by 32.
    [(5000, (31, 32), 34), (20000, (30, 31), 32)],
)
def test_a_step_drop_of_40_percent_is_flagged_within_days(
    campaign, settings, impressions, expected, flagged_by
):
    shape = step(at=30, drop=0.4)
    assert expected_days(shape, impressions=impressions, ads=settings.ADS) == expected
    ads = [make_ad(campaign) for _ in range(5)]
    for seed, ad in enumerate(ads):
        write_history(ad, days=DAYS, end=END, ctr=shape, impressions=impressions, seed=seed)

    assert run_after(29)["fatigued"] == 0
    assert run_after(flagged_by)["fatigued"] == 5
    for finding in FatigueFinding.objects.all():
        # The alarm may have begun a little earlier where the baseline came out high.
        assert index_of(finding.alarm_day) <= 32
        assert finding.severity in ("warning", "high")
        assert finding.baseline_rate == pytest.approx(0.02, rel=0.1)
        # Days before the step count where the alarm began early (the last 7 days at most).
        assert 0.011 <= finding.recent_rate <= 0.017


def test_a_falling_conversion_rate_is_flagged_while_ctr_holds(campaign):
    ad = make_ad(campaign)
    write_history(
        ad, days=DAYS, end=END, impressions=20000, ctr=0.02,
        conversion_rate=decay(start=14, per_day=0.04, rate=0.1),
    )  # fmt: skip

    assert run_after(DAYS - 1)["fatigued"] == 1

    finding = FatigueFinding.objects.get(ad=ad)
    assert finding.metric == "conversion_rate"
    assert finding.baseline_rate == pytest.approx(0.1, rel=0.1)
    assert finding.recommendation.startswith("Conversion rate fell ")
    ad.refresh_from_db()
    assert ad.fatigue_reason.startswith("Conversion rate fell ")


def test_the_conversion_rate_needs_enough_baseline_conversions(campaign):
    ad = make_ad(campaign)
    # 100 clicks a day at 2 %: 14 conversions in the baseline week, fewer than 30.
    write_history(ad, days=DAYS, end=END, conversion_rate=decay(start=14, per_day=0.04, rate=0.02))

    assert run_after(DAYS - 1)["healthy"] == 1
    assert not FatigueFinding.objects.exists()
    ad.refresh_from_db()
    assert "conversion rate" not in ad.fatigue_reason


def test_ads_with_too_little_data_are_skipped_with_the_reason(campaign):
    short = make_ad(campaign)
    write_history(short, days=6, end=END)
    thin = make_ad(campaign)
    write_history(thin, days=40, end=END, impressions=150, ctr=decay(start=0, per_day=0.05))
    mostly_thin = make_ad(campaign)
    write_history(mostly_thin, days=40, end=END, impressions=lambda i: 5000 if i == 39 else 150)
    silent = make_ad(campaign)
    write_history(silent, days=40, end=END, ctr=0.0)
    unrecorded = make_ad(campaign)

    summary = run_after(DAYS - 1)

    assert summary["insufficient"] == 5
    reasons = dict(Ad.objects.values_list("name", "fatigue_reason"))
    assert reasons[short.name] == "6 days with at least 200 impressions; fatigue needs 10."
    assert reasons[thin.name] == "0 days with at least 200 impressions; fatigue needs 10."
    assert reasons[mostly_thin.name] == "1 day with at least 200 impressions; fatigue needs 10."
    assert reasons[unrecorded.name] == "0 days with at least 200 impressions; fatigue needs 10."
    assert reasons[silent.name] == "No clicks in its first 7 days with at least 200 impressions."
    assert set(Ad.objects.values_list("fatigue", flat=True)) == {"insufficient_data"}


def test_paused_ads_are_not_analysed_and_keep_their_findings(user, campaign):
    paused = make_ad(campaign, status="paused")
    flagged = make_ad(campaign)
    other_campaign = make_campaign(user, status="ended")
    in_ended_campaign = make_ad(other_campaign)
    for seed, ad in enumerate([paused, flagged, in_ended_campaign]):
        write_history(ad, days=DAYS, end=END, ctr=step(at=30, drop=0.5), seed=seed)
    run_after(DAYS - 3)
    Ad.objects.filter(id=flagged.id).update(status="paused")

    summary = run_after(DAYS - 1)

    assert summary["checked"] == 0 and summary["not_active"] == 3
    fatigue = {ad.id: (ad.fatigue, ad.fatigue_reason) for ad in Ad.objects.all()}
    assert fatigue[paused.id] == ("not_active", "The ad is paused.")
    assert fatigue[flagged.id] == ("not_active", "The ad is paused.")
    assert fatigue[in_ended_campaign.id] == ("not_active", "Its campaign is ended.")
    finding = FatigueFinding.objects.get()
    assert (finding.ad_id, finding.is_open) == (flagged.id, True)


def test_recovery_closes_the_finding_on_a_later_run(campaign):
    ad = make_ad(campaign)
    write_history(ad, days=DAYS, end=END, ctr=lambda i: 0.012 if 14 <= i < 40 else 0.02)
    assert run_after(39)["fatigued"] == 1

    summary = run_after(DAYS - 1)

    assert (summary["resolved"], summary["healthy"]) == (1, 1)
    finding = FatigueFinding.objects.get()
    assert not finding.is_open
    assert finding.resolved_at == datetime.combine(END + timedelta(days=1), time(6), tzinfo=UTC)
    ad.refresh_from_db()
    assert ad.fatigue == "healthy"
    assert ad.fatigue_reason.startswith("Not fatigued over 60 days: CTR 2")


def test_the_evidence_holds_the_history_numbers(campaign):
    ad = make_ad(campaign)
    shape = decay(start=14, per_day=0.04)
    write_history(
        ad, days=40, end=END, impressions=200_000, ctr=shape,
        frequency=lambda i: 1.5 if i < 14 else 1.5 + 0.05 * (i - 13),
    )  # fmt: skip

    fatigue_pass(now=datetime.combine(END + timedelta(days=1), time(6), tzinfo=UTC))

    finding = FatigueFinding.objects.get()
    recent = [shape(i) for i in range(33, 40)]
    recent_frequency = 7 / sum(1 / (1.5 + 0.05 * (i - 13)) for i in range(33, 40))
    assert finding.metric == "ctr"
    assert finding.baseline_rate == pytest.approx(0.02, rel=0.01)
    assert finding.recent_rate == pytest.approx(sum(recent) / 7, rel=0.01)
    assert finding.drop == pytest.approx(1 - sum(recent) / 7 / 0.02, abs=0.01)
    assert finding.slope_per_day == pytest.approx(-0.04, abs=0.003)
    assert finding.days_observed == 40
    assert finding.frequency_baseline == pytest.approx(1.5, rel=0.001)
    assert finding.frequency_recent == pytest.approx(recent_frequency, rel=0.001)
    assert finding.cusum < -100
    assert finding.severity == "critical"
    assert END - timedelta(days=26) <= finding.alarm_day <= END - timedelta(days=22)
    assert finding.recommendation == (
        f"CTR fell {round(finding.drop * 100)} % from {percent(finding.baseline_rate)} to "
        f"{percent(finding.recent_rate)} over 25 days while frequency rose from 1.5 to "
        f"{recent_frequency:.1f}: replace the creative."
    )


@pytest.mark.parametrize(
    ("drop", "frequency", "severity"),
    [(0.25, None, "warning"), (0.4, None, "high"), (0.4, 2.5, "critical"), (0.6, None, "critical")],
)
def test_severity_follows_the_drop_and_a_rising_frequency(campaign, drop, frequency, severity):
    ad = make_ad(campaign)
    write_history(
        ad, days=40, end=END, impressions=100_000, ctr=step(at=30, drop=drop),
        frequency=frequency and (lambda i: 1.5 if i < 30 else frequency),
    )  # fmt: skip

    fatigue_pass(now=datetime.combine(END + timedelta(days=1), time(6), tzinfo=UTC))

    assert FatigueFinding.objects.get().severity == severity


def test_a_narrated_ad_is_told_to_re_render_with_another_persona(campaign, user, persona):
    job = Job.objects.create(owner=user, title="deck.pptx", persona=persona)
    ad = make_ad(campaign, narration_job=job)
    write_history(ad, days=40, end=END, ctr=step(at=30, drop=0.5))

    fatigue_pass(now=datetime.combine(END + timedelta(days=1), time(6), tzinfo=UTC))

    assert FatigueFinding.objects.get().recommendation.endswith(
        ": refresh the creative — re-render this deck with another persona or preset."
    )


def test_a_finding_stays_one_per_metric_and_is_updated(campaign):
    ad = make_ad(campaign)
    write_history(ad, days=DAYS, end=END, ctr=decay(start=14, per_day=0.04))

    first = run_after(40)
    second = run_after(DAYS - 1)

    assert (first["opened"], second["opened"]) == (1, 0)
    finding = FatigueFinding.objects.get()
    assert finding.first_detected_at < finding.last_detected_at
    assert finding.days_observed == DAYS


def test_the_summary_counts_and_the_run_is_recorded(campaign):
    steady, decaying, short, paused = (make_ad(campaign) for _ in range(4))
    Ad.objects.filter(id=paused.id).update(status="paused")
    write_history(steady, days=DAYS, end=END)
    write_history(decaying, days=DAYS, end=END, ctr=decay(start=14, per_day=0.04))
    write_history(short, days=5, end=END)

    summary = run_after(DAYS - 1)

    assert {key: value for key, value in summary.items() if key != "duration_ms"} == {
        "checked": 3, "fatigued": 1, "healthy": 1, "insufficient": 1, "not_active": 1,
        "opened": 1, "resolved": 0,
    }  # fmt: skip
    assert isinstance(summary["duration_ms"], int)
    run = AnalysisRun.objects.get()
    assert run.kind == "fatigue" and run.error == ""
    assert run.summary == summary
    assert run.finished_at >= run.started_at
    assert set(Ad.objects.values_list("fatigue_checked_at", flat=True)) == {
        datetime.combine(END + timedelta(days=1), time(6), tzinfo=UTC)
    }


def test_a_failed_run_is_recorded_with_its_error(db):
    with pytest.raises(DataError):
        fatigue_pass(ad_ids=["not-an-ad-id"])

    run = AnalysisRun.objects.get()
    assert run.finished_at is not None
    assert run.error.startswith("DataError: invalid input syntax for type uuid")


def test_ad_ids_limit_the_pass_to_those_ads(campaign):
    chosen, other = make_ad(campaign), make_ad(campaign)
    for ad in (chosen, other):
        write_history(ad, days=DAYS, end=END, ctr=decay(start=14, per_day=0.04))

    summary = run_after(DAYS - 1, ad_ids=[chosen.id])

    assert (summary["checked"], summary["fatigued"]) == (1, 1)
    assert dict(Ad.objects.values_list("id", "fatigue")) == {
        chosen.id: "fatigued",
        other.id: "unchecked",
    }
    assert run_after(DAYS - 1, ad_ids=[])["checked"] == 0
