"""Campaigns, ads and daily histories of a known shape, written straight to the database."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from decimal import Decimal

from jobs.ads.models import Ad, AdSnapshot, Campaign


def make_campaign(owner, **fields) -> Campaign:
    fields.setdefault("name", f"Campaign {Campaign.objects.count() + 1}")
    fields.setdefault("daily_budget", Decimal("100.00"))
    return Campaign.objects.create(owner=owner, **fields)


def make_ad(campaign: Campaign, **fields) -> Ad:
    number = Ad.objects.count() + 1
    fields.setdefault("name", f"Ad {number}")
    fields.setdefault("utm_content", f"ad-{number}-{campaign.id.hex[:6]}")
    fields.setdefault("daily_budget", Decimal("20.00"))
    return Ad.objects.create(campaign=campaign, **fields)


def write_history(
    ad: Ad,
    *,
    days: int,
    impressions: int | Callable[[int], int] = 5000,
    ctr: float | Callable[[int], float] = 0.02,
    conversion_rate: float | Callable[[int], float] = 0.05,
    cpm: float = 8.0,
    revenue_per_conversion: float = 40.0,
    frequency: float | Callable[[int], float] | None = None,
    noise: float = 0.0,
    end: date | None = None,
    seed: int = 0,
) -> list[AdSnapshot]:
    """Write `days` daily snapshots ending yesterday (or `end`); rates may depend on the day index.

    Clicks and conversions are binomial draws, so the history is as noisy as real traffic;
    `noise` adds day-to-day variation of the rate itself (relative standard deviation).
    """
    rng = random.Random(seed)
    last = end or date.today() - timedelta(days=1)
    rows = []
    for index in range(days):
        imps = impressions(index) if callable(impressions) else impressions
        rate = ctr(index) if callable(ctr) else ctr
        rate = min(max(rate * (1 + rng.gauss(0, noise)), 0.0), 1.0) if noise else rate
        clicks = _binomial(rng, imps, rate)
        conv_rate = conversion_rate(index) if callable(conversion_rate) else conversion_rate
        conversions = _binomial(rng, clicks, conv_rate)
        freq = frequency(index) if callable(frequency) else frequency
        rows.append(
            AdSnapshot(
                ad=ad,
                day=last - timedelta(days=days - 1 - index),
                impressions=imps,
                reach=int(imps / freq) if freq else None,
                clicks=clicks,
                spend=Decimal(str(round(imps / 1000 * cpm, 4))),
                video_views=int(imps * 0.3),
                conversions=conversions,
                revenue=Decimal(str(round(conversions * revenue_per_conversion, 4))),
            )
        )
    return AdSnapshot.objects.bulk_create(rows)


def _binomial(rng: random.Random, trials: int, p: float) -> int:
    # A normal approximation is plenty for thousands of trials and much faster than a loop.
    if trials * p * (1 - p) > 25:
        value = rng.gauss(trials * p, (trials * p * (1 - p)) ** 0.5)
        return int(min(max(round(value), 0), trials))
    return sum(1 for _ in range(trials) if rng.random() < p)


def write_histories(ads: Iterable[Ad], **shape) -> None:
    for seed, ad in enumerate(ads):
        write_history(ad, seed=seed, **shape)
