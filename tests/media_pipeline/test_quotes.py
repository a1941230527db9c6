"""Reading a persona's quotes from lines, CSV and JSON, and refusing bad ones by row or item."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_pipeline.documents import InvalidDocumentError
from media_pipeline.quotes import Quote, QuoteLimits, parse_quotes


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def refusal(path: Path, name: str, **limits: int) -> str:
    with pytest.raises(InvalidDocumentError) as caught:
        parse_quotes(path, name=name, limits=QuoteLimits(**limits))
    assert caught.value.permanent
    return caught.value.message


# --- One quote a line --------------------------------------------------------------------------


def test_text_lines_lose_bullets_and_quotation_marks_and_keep_attributions(tmp_path):
    path = write(
        tmp_path,
        "quotes.txt",
        "\ufeff- \u201cBe yourself; everyone else is already taken.\u201d \u2014 Oscar Wilde\r\n"
        "\r\n"
        '* "Simplicity is the ultimate sophistication."\r\n'
        "1. Stay hungry. \u2014 Steve Jobs\n"
        "We came - we saw - we left\n"
        '"Simplicity  is the ULTIMATE sophistication."\n',
    )
    assert parse_quotes(path, name="quotes.txt") == [
        Quote("Be yourself; everyone else is already taken.", "Oscar Wilde"),
        Quote("Simplicity is the ultimate sophistication.", ""),
        Quote("Stay hungry.", "Steve Jobs"),
        Quote("We came - we saw - we left", ""),
    ]


def test_markdown_headings_and_markup_are_not_quotes(tmp_path):
    path = write(
        tmp_path,
        "quotes.md",
        "# Favourite lines\n\n- **Less** is more.\n> Form follows *function*.\n---\n"
        "- See [the essay](https://example.com) first.\n",
    )
    assert parse_quotes(path, name="quotes.md") == [
        Quote("Less is more.", ""),
        Quote("Form follows function.", ""),
        Quote("See the essay first.", ""),
    ]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_header_names_the_quote_and_source_columns(tmp_path):
    path = write(
        tmp_path,
        "quotes.csv",
        'id,Author,Quote\n1,Ada Lovelace,"That brain of mine is something more than merely '
        'mortal, as time will show."\n2,,"A line, with a comma,\nand a new line"\n\n,,\n',
    )
    assert parse_quotes(path, name="quotes.csv") == [
        Quote(
            "That brain of mine is something more than merely mortal, as time will show.",
            "Ada Lovelace",
        ),
        Quote("A line, with a comma, and a new line", ""),
    ]


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_csv_without_header_is_quote_then_source_in_any_delimiter(tmp_path, delimiter):
    rows = [("Don't panic, it's fine.", "Douglas Adams"), ("Hello, it's me.", "Adele")]
    content = "".join(f'"{quote}"{delimiter}{source}\n' for quote, source in rows)
    path = write(tmp_path, "quotes.csv", content)
    assert parse_quotes(path, name="quotes.csv") == [Quote(*row) for row in rows]


def test_csv_with_one_column_has_no_sources(tmp_path):
    path = write(tmp_path, "lines.csv", "text\nFirst line\nSecond line\n")
    assert parse_quotes(path, name="lines.csv") == [
        Quote("First line", ""),
        Quote("Second line", ""),
    ]


# --- JSON --------------------------------------------------------------------------------------


def test_json_list_of_strings(tmp_path):
    path = write(tmp_path, "quotes.json", json.dumps(["One.", "Two.", "one."]))
    assert parse_quotes(path, name="quotes.json") == [Quote("One.", ""), Quote("Two.", "")]


def test_json_objects_with_text_or_quote_and_source_or_author(tmp_path):
    items = [
        {"text": "Knowledge is power.", "source": "Bacon"},
        {"quote": "Time is money.", "author": "Franklin"},
        {"text": "Unattributed."},
    ]
    path = write(tmp_path, "quotes.json", json.dumps({"quotes": items}))
    assert parse_quotes(path, name="quotes.json") == [
        Quote("Knowledge is power.", "Bacon"),
        Quote("Time is money.", "Franklin"),
        Quote("Unattributed.", ""),
    ]


# --- Refusals ----------------------------------------------------------------------------------


def test_a_quote_over_the_limit_is_refused_by_row(tmp_path):
    rows = ["quote,author"] + [f"Line {number},Someone" for number in range(2, 7)]
    path = write(tmp_path, "quotes.csv", "\n".join([*rows, "x" * 1532 + ",Someone"]) + "\n")
    assert refusal(path, "quotes.csv") == (
        "quotes.csv, row 7: the quote is 1532 characters; the limit is 1000."
    )


def test_a_json_item_without_text_is_refused_by_item(tmp_path):
    path = write(tmp_path, "quotes.json", json.dumps(["One.", {"text": "Two."}, {"author": "X"}]))
    assert refusal(path, "quotes.json") == 'quotes.json, item 3: has no "text" or "quote".'


def test_a_json_item_of_the_wrong_kind_is_refused(tmp_path):
    path = write(tmp_path, "quotes.json", json.dumps(["One.", 42]))
    assert refusal(path, "quotes.json") == (
        'quotes.json, item 2: is a number, not a string or an object with "text".'
    )


def test_a_json_source_that_is_not_a_string_is_refused(tmp_path):
    path = write(tmp_path, "quotes.json", json.dumps([{"text": "One.", "author": ["A", "B"]}]))
    assert refusal(path, "quotes.json") == (
        'quotes.json, item 1: its "author" is a list, not a string.'
    )


def test_json_that_is_not_a_list_of_quotes_is_refused(tmp_path):
    path = write(tmp_path, "quotes.json", json.dumps({"items": ["One."]}))
    assert refusal(path, "quotes.json") == (
        "quotes.json: holds no list of quotes: write a list of strings, a list of objects with "
        '"text" and "source", or an object whose "quotes" is such a list.'
    )


def test_broken_json_is_refused_with_its_position(tmp_path):
    path = write(tmp_path, "quotes.json", '["One.",\n "Two."')
    assert refusal(path, "quotes.json") == (
        "quotes.json: could not be read as JSON (Expecting ',' delimiter at line 2, column 8)."
    )


def test_deeply_nested_json_is_refused(tmp_path):
    path = write(tmp_path, "quotes.json", "[" * 100_000 + "]" * 100_000)
    assert refusal(path, "quotes.json") == (
        "quotes.json: could not be read as JSON (it is nested too deeply)."
    )


def test_a_csv_row_with_a_source_but_no_quote_is_refused(tmp_path):
    path = write(tmp_path, "quotes.csv", "quote,source\nFine.,A\n,B\n")
    assert refusal(path, "quotes.csv") == "quotes.csv, row 3: the quote is empty."


def test_too_many_quotes_are_refused(tmp_path):
    path = write(tmp_path, "quotes.txt", "".join(f"Quote {number}\n" for number in range(11)))
    assert refusal(path, "quotes.txt", max_quotes=10) == (
        "quotes.txt: has more than 10 quotes; the limit is 10."
    )


def test_a_file_without_quotes_is_refused(tmp_path):
    path = write(tmp_path, "quotes.md", "# Quotes\n\n\n")
    assert refusal(path, "quotes.md") == "quotes.md: has no quotes in it."


def test_empty_binary_and_unsupported_files_are_refused(tmp_path):
    assert refusal(write(tmp_path, "a.txt", b""), "quotes.txt") == "quotes.txt: the file is empty."
    assert refusal(write(tmp_path, "b.txt", bytes(range(256))), "quotes.txt") == (
        "quotes.txt: is not text: it holds binary data."
    )
    assert refusal(write(tmp_path, "c.xlsx", b"PK\x03\x04"), "quotes.xlsx") == (
        "quotes.xlsx: .xlsx files cannot be read as quotes; upload one of .txt, .md, .csv, .json."
    )


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = write(tmp_path, "quotes.txt", "A quote.\n" * 200)
    assert refusal(path, "quotes.txt", max_file_bytes=1024) == (
        "quotes.txt: the file is 1.76 KB; the limit is 1 KB."
    )
