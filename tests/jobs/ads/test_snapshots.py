from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.ads import snapshots
from jobs.ads.models import AdSnapshot
from jobs.ads.snapshots import RowError, snapshots_ingest, snapshots_ingest_csv
from tests.jobs.ads.factories import make_ad, make_campaign

pytestmark = pytest.mark.django_db

DAY = "2024-03-01"


@pytest.fixture
def ad(user):
    return make_ad(make_campaign(user, name="Spring"), external_id="E1")


@pytest.fixture
def other_ad(other_user):
    return make_ad(make_campaign(other_user, name="Theirs"), external_id="THEIRS")


def row(ad, **fields) -> dict:
    values = {"ad_id": str(ad.id), "date": DAY, "impressions": 1000, "clicks": 20, "spend": "8.5"}
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def stored(ad, day: str = DAY, hour: int | None = None) -> AdSnapshot:
    return AdSnapshot.objects.get(ad=ad, day=day, hour=hour)


def csv_upload(text: str, *, name: str = "report.csv", encoding: str = "utf-8"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def test_rows_are_created_with_every_value_stored(user, ad):
    report = snapshots_ingest(
        owner=user,
        rows=[
            row(ad, reach=800, video_views=300, avg_watch_seconds="12.5",
                completion_rate="45%", conversions=3, revenue="120.00"),
            row(ad, date="2024-03-02", spend=4),
        ],
    )  # fmt: skip

    assert (report.received, report.created, report.updated, report.errors) == (2, 2, 0, [])
    assert report.accepted == 2
    first = stored(ad)
    assert (first.impressions, first.reach, first.clicks, first.video_views) == (1000, 800, 20, 300)
    assert (first.spend, first.revenue, first.conversions) == (Decimal("8.5"), Decimal(120), 3)
    assert (first.avg_watch_seconds, first.completion_rate) == (12.5, 0.45)
    second = stored(ad, "2024-03-02")
    # Left out: counts are zero, what the platform may not report stays unknown.
    assert (second.video_views, second.conversions, second.revenue) == (0, 0, Decimal(0))
    assert (second.reach, second.avg_watch_seconds, second.completion_rate) == (None, None, None)


def test_a_late_correction_overwrites_the_period(user, ad):
    snapshots_ingest(owner=user, rows=[row(ad, reach=900, conversions=2)])
    before = stored(ad).updated_at

    report = snapshots_ingest(owner=user, rows=[row(ad, impressions=1200, clicks=30, reach=None)])

    assert (report.created, report.updated) == (0, 1)
    snapshot = stored(ad)
    assert (snapshot.impressions, snapshot.clicks) == (1200, 30)
    # Every platform column takes the corrected row's value, left-out ones included.
    assert (snapshot.reach, snapshot.conversions) == (None, 0)
    assert snapshot.updated_at > before
    assert AdSnapshot.objects.count() == 1


def test_sending_the_same_rows_again_changes_nothing_but_the_count(user, ad):
    rows = [row(ad, date=f"2024-03-0{day}", conversions=day) for day in range(1, 6)]
    snapshots_ingest(owner=user, rows=rows)
    before = list(AdSnapshot.objects.values_list("day", "impressions", "spend", "updated_at"))

    report = snapshots_ingest(owner=user, rows=rows)

    assert (report.received, report.created, report.updated, report.errors) == (5, 0, 5, [])
    after = list(AdSnapshot.objects.values_list("day", "impressions", "spend", "updated_at"))
    assert after == before


def test_an_ad_can_be_named_by_its_external_id(user, ad):
    report = snapshots_ingest(
        owner=user, rows=[{"ad_external_id": "E1", "date": DAY, "impressions": "10",
                           "clicks": "1", "spend": "0.5"}],
    )  # fmt: skip

    assert report.created == 1
    assert stored(ad).impressions == 10


today = date.today()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"spend": "-3.50"}, "spend must not be negative (-3.50)."),
        ({"revenue": -1}, "revenue must not be negative (-1)."),
        ({"clicks": 120, "impressions": 100}, "clicks (120) exceed impressions (100)."),
        ({"reach": 2000}, "reach (2000) exceeds impressions (1000)."),
        ({"impressions": "-5", "clicks": 0}, "impressions must not be negative (-5)."),
        ({"clicks": "1.5"}, "clicks '1.5' is not a whole number."),
        ({"clicks": "\u0663"}, "clicks '\u0663' is not a whole number."),  # an Arabic-Indic 3
        ({"impressions": "1,234"}, "without thousands separators"),
        ({"spend": "12,50"}, "with a point for decimals"),
        ({"spend": "nan"}, "spend (nan) is not a finite number."),
        ({"revenue": float("inf")}, "revenue (inf) is not a finite number."),
        ({"spend": "12345678901"}, "spend (12345678901) is too large."),
        ({"impressions": None}, "impressions is missing"),
        ({"video_views": "lots"}, "video_views 'lots' is not a whole number."),
        ({"completion_rate": "45"}, "give a fraction (0.45) or a percentage (45%)"),
        ({"completion_rate": "120%"}, "is not between 0% and 100%"),
        ({"avg_watch_seconds": "-2"}, "avg_watch_seconds must not be negative (-2)."),
        ({"date": "2024-13-01"}, "date '2024-13-01' is not a date (YYYY-MM-DD)."),
        ({"date": "01/03/2024"}, "date '01/03/2024' is not a date (YYYY-MM-DD)."),
        ({"date": None}, "date is missing."),
        ({"date": "1999-12-31"}, "date (1999-12-31) is before 2000-01-01."),
        ({"date": str(today + timedelta(days=2))}, "is in the future"),
        ({"date": f"{DAY} 13:00"}, "has a time of day"),
        ({"hour": 24}, "hour (24) is not between 0 and 23."),
        ({"hour": "noon"}, "hour 'noon' is not an hour"),
        ({"ad_id": "abc"}, "ad_id 'abc' is not a Slidecast ad id (a UUID)"),
        (
            {"ad_id": None, "ad_external_id": "nope"},
            "Unknown ad 'nope': none of your ads has that id or external id.",
        ),
        (
            {"ad_id": "6f1c7a1e-0000-4000-8000-000000000000"},
            "Unknown ad '6f1c7a1e-0000-4000-8000-000000000000'",
        ),
        ({"ad_id": None}, "The row names no ad: give ad_id or ad_external_id."),
        ({"ad_external_id": "E2"}, "name different ads"),
    ],
)
def test_a_bad_row_is_refused_with_its_number_and_reason_while_the_rest_goes_in(
    user, ad, fields, reason
):
    rows = [row(ad, date="2024-02-01"), row(ad, **fields), row(ad, date="2024-02-02")]

    report = snapshots_ingest(owner=user, rows=rows)

    assert (report.received, report.created, report.accepted) == (3, 2, 2)
    [error] = report.errors
    assert error.row == 2
    assert reason in error.reason
    assert error.reason.endswith(".")
    assert not AdSnapshot.objects.filter(day=DAY).exists()


def test_every_problem_of_a_row_is_given_at_once(user, ad):
    report = snapshots_ingest(owner=user, rows=[row(ad, spend="-1", hour=30)])

    [error] = report.errors
    assert "hour (30)" in error.reason
    assert "spend must not be negative" in error.reason


def test_amounts_beyond_four_decimals_are_rounded_half_even(user, ad):
    snapshots_ingest(
        owner=user,
        rows=[
            row(ad, date="2024-03-01", spend="1.00005", revenue=0.00015),
            row(ad, date="2024-03-02", spend="2.5e1", revenue=Decimal("3.123449")),
        ],
    )

    assert (stored(ad, "2024-03-01").spend, stored(ad, "2024-03-01").revenue) == (
        Decimal("1.0000"),
        Decimal("0.0002"),
    )
    assert (stored(ad, "2024-03-02").spend, stored(ad, "2024-03-02").revenue) == (
        Decimal("25"),
        Decimal("3.1234"),
    )


def test_another_owners_ad_is_unknown_exactly_like_a_missing_one(user, ad, other_ad):
    report = snapshots_ingest(
        owner=user,
        rows=[row(other_ad), row(ad, ad_id=None, ad_external_id="THEIRS"), row(ad)],
    )

    assert report.created == 1
    assert [(error.row, error.reason) for error in report.errors] == [
        (1, f"Unknown ad '{other_ad.id}': none of your ads has that id or external id."),
        (2, "Unknown ad 'THEIRS': none of your ads has that id or external id."),
    ]
    assert not AdSnapshot.objects.filter(ad=other_ad).exists()


def test_an_external_id_two_of_the_owners_ads_share_is_refused_as_ambiguous(user, ad):
    twin = make_ad(make_campaign(user, name="Autumn"), external_id="E1")

    report = snapshots_ingest(
        owner=user,
        rows=[row(ad, ad_id=None, ad_external_id="E1"), row(twin, ad_external_id="E1")],
    )

    assert report.created == 1
    [error] = report.errors
    assert (error.row, error.ad) == (1, "E1")
    assert "used by 2 of your ads (campaigns 'Autumn', 'Spring')" in error.reason
    assert "name the ad by ad_id instead" in error.reason
    assert stored(twin).impressions == 1000


def test_a_whole_day_is_refused_where_hours_are_stored(user, ad):
    snapshots_ingest(owner=user, rows=[row(ad, hour=9), row(ad, hour=10)])

    report = snapshots_ingest(owner=user, rows=[row(ad), row(ad, hour=11)])

    assert (report.created, report.updated) == (1, 0)
    [error] = report.errors
    assert error.row == 1
    assert "hourly snapshots are already stored" in error.reason
    assert "either whole or by the hour, never both" in error.reason
    assert not AdSnapshot.objects.filter(ad=ad, hour=None).exists()


def test_hours_are_refused_where_the_whole_day_is_stored(user, ad):
    snapshots_ingest(owner=user, rows=[row(ad)])

    report = snapshots_ingest(owner=user, rows=[row(ad, hour=3), row(ad, date="2024-03-02")])

    assert report.created == 1
    [error] = report.errors
    assert error.row == 1
    assert "a whole-day snapshot is already stored" in error.reason
    assert AdSnapshot.objects.filter(ad=ad, day=DAY).count() == 1


def test_whole_day_and_hours_mixed_in_one_batch_keep_the_first_kind(user, ad):
    report = snapshots_ingest(owner=user, rows=[row(ad, hour=5), row(ad), row(ad, hour=6)])

    assert report.created == 2
    [error] = report.errors
    assert error.row == 2
    assert "hourly rows were given earlier in this upload (row 1)" in error.reason
    assert set(AdSnapshot.objects.values_list("hour", flat=True)) == {5, 6}


def test_the_same_period_twice_in_a_batch_counts_once_and_the_later_row_wins(user, ad):
    report = snapshots_ingest(
        owner=user, rows=[row(ad, clicks=1), row(ad, date="2024-03-02"), row(ad, clicks=7)]
    )

    assert (report.received, report.accepted, report.created, report.updated) == (3, 3, 2, 0)
    assert stored(ad).clicks == 7


def test_chunks_of_one_call_count_a_repeated_period_once_and_see_each_others_days(
    user, ad, monkeypatch
):
    monkeypatch.setattr(snapshots, "CHUNK_ROWS", 2)
    rows = [
        row(ad, date="2024-03-01"),
        row(ad, date="2024-03-02", hour=4),
        row(ad, date="2024-03-03"),
        row(ad, date="2024-03-01", clicks=9),  # a correction of row 1, in another chunk
        row(ad, date="2024-03-02"),  # the day went in by the hour one chunk earlier
    ]

    report = snapshots_ingest(owner=user, rows=rows)

    assert (report.received, report.created, report.updated) == (5, 3, 0)
    assert [(error.row, "hourly snapshots are already stored" in error.reason)
            for error in report.errors] == [(5, True)]  # fmt: skip
    assert stored(ad, "2024-03-01").clicks == 9


META_EXPORT = (
    "\ufeffReporting starts;Reporting ends;Ad name;Ad ID;Impressions;Reach;Link clicks;"
    "Amount spent (USD);ThruPlays;Results;Purchase conversion value\r\n"
    "2024-03-01;2024-03-01;Spring video;E1;1000;800;20;8,50;300;3;120\r\n"
    "2024-03-02;2024-03-02;Spring video;E1;1100;850;22;9.25;310;2;80.5\r\n"
    "\r\n"
)


def test_a_platform_export_with_semicolons_and_aliases_goes_in(user, ad):
    report = snapshots_ingest_csv(owner=user, upload=csv_upload(META_EXPORT))

    # Line 2 writes a decimal comma, which could as well be a thousands separator.
    assert (report.received, report.created) == (2, 1)
    [error] = report.errors
    assert (error.row, error.ad) == (2, "E1")
    assert "spend '8,50' is not a number" in error.reason
    snapshot = stored(ad, "2024-03-02")
    assert (snapshot.impressions, snapshot.reach, snapshot.clicks) == (1100, 850, 22)
    assert (snapshot.spend, snapshot.video_views, snapshot.conversions) == (
        Decimal("9.25"),
        310,
        2,
    )
    assert snapshot.revenue == Decimal("80.5")


def test_google_style_headers_and_tabs_are_understood(user, ad):
    text = (
        "Day\tAd ID\tHour of day\tImpr.\tClicks\tCost\tConv.\tConv. value\n"
        "2024-03-01\tE1\t7\t500\t5\t1.20\t1\t9.99\n"
    )

    report = snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert (report.created, report.errors) == (1, [])
    snapshot = stored(ad, hour=7)
    assert (snapshot.impressions, snapshot.conversions, snapshot.revenue) == (
        500,
        1,
        Decimal("9.99"),
    )


def test_csv_rows_are_numbered_by_line_and_a_ragged_line_is_a_row_error(user, ad):
    text = (
        "ad_id,date,hour,impressions,clicks,spend\n"
        f"{ad.id},2024-03-01,,100,5,1.00\n"
        f"{ad.id},2024-03-02,,100,500,1.00\n"
        f"{ad.id},2024-03-03,,100\n"
        f'{ad.id},2024-03-04,,100,5,"1.00"\n'
    )

    report = snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert (report.received, report.created) == (4, 2)
    assert report.errors == [
        RowError(row=3, ad=str(ad.id), reason="clicks (500) exceed impressions (100)."),
        RowError(row=4, ad=str(ad.id), reason="The line has 4 fields but the header has 6."),
    ]


def test_unknown_columns_are_ignored(user, ad):
    text = (
        "Campaign name,ad_external_id,date,impressions,clicks,spend,Notes\n"
        "X,E1,2024-03-01,1,0,0,hi\n"
    )

    report = snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert (report.created, report.errors) == (1, [])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "it contains binary data"),
        (b"PK\x03\x04\x14\x00\x06\x00", "export the sheet as CSV UTF-8"),
        ("date,impressions\n".encode("utf-16"), "The file is UTF-16 text"),
        (
            "ad_external_id,date,impressions,clicks,spend\nCaf\u00e9,2024-03-01,1,0,0\n".encode(
                "latin-1"
            ),
            "The file is not UTF-8 text",
        ),  # fmt: skip
        (b"\nad_id,date\n", "The file has no header line"),
        (
            b"Ad ID,Day,Impressions,Notes\nE1,2024-03-01,1,x\n",
            "The file has no column for clicks, spend. Its columns are: 'Ad ID', 'Day', "
            "'Impressions', 'Notes'.",
        ),
        (b"date,impressions,clicks,spend\n", "no column for ad_id or ad_external_id"),
        (
            b"ad_id,date,impressions,Link clicks,Clicks,spend\n",
            "The columns 'Link clicks' and 'Clicks' both give clicks; keep one of them.",
        ),
    ],
)
def test_an_unusable_file_is_refused_whole(user, ad, content, message):
    upload = SimpleUploadedFile("report.csv", content, content_type="text/csv")

    with pytest.raises(ValidationError) as refused:
        snapshots_ingest_csv(owner=user, upload=upload)

    assert message in refused.value.messages[0]
    assert not AdSnapshot.objects.exists()


def test_a_file_over_the_size_limit_is_refused(user, ad, settings):
    settings.ADS = {**settings.ADS, "CSV_MAX_BYTES": 1024}
    text = "ad_external_id,date,impressions,clicks,spend\n" + "E1,2024-03-01,1,0,0\n" * 100

    with pytest.raises(ValidationError) as refused:
        snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert refused.value.messages == [
        "The file is 2.0 KB; an upload may be at most 1.0 KB. Split it into several files."
    ]


def test_a_file_over_the_row_limit_is_refused_before_anything_is_written(user, ad, settings):
    settings.ADS = {**settings.ADS, "CSV_MAX_ROWS": 2}
    text = "ad_external_id,date,impressions,clicks,spend\n" + "".join(
        f"E1,2024-03-0{day},1,0,0\n" for day in range(1, 4)
    )

    with pytest.raises(ValidationError) as refused:
        snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert "The file has 3 rows; an upload may have at most 2." in refused.value.messages[0]
    assert not AdSnapshot.objects.exists()


def test_a_row_that_is_not_an_object_is_refused(user, ad):
    report = snapshots_ingest(owner=user, rows=[["E1", DAY], row(ad)])

    assert report.created == 1
    assert report.errors == [
        RowError(row=1, ad="", reason="The row is not an object of named values.")
    ]


def test_an_export_row_summing_several_days_is_refused(user, ad):
    text = (
        "Reporting starts,Reporting ends,Ad ID,Impressions,Link clicks,Amount spent (USD)\n"
        "2024-03-01,2024-03-31,E1,30000,600,240\n"
        "2024-03-01,2024-03-01,E1,1000,20,8\n"
    )

    report = snapshots_ingest_csv(owner=user, upload=csv_upload(text))

    assert report.created == 1
    [error] = report.errors
    assert (error.row, error.ad) == (2, "E1")
    assert "covers '2024-03-01' to '2024-03-31', not one day" in error.reason
    assert stored(ad).impressions == 1000
