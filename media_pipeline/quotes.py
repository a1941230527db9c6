"""A persona's quotes from an uploaded list: one a line, CSV rows, or JSON items.

Problems name the file and the line, row or item, so that a person can find and fix it:
"quotes.csv, row 7: the quote is 1532 characters; the limit is 1000."
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from media_pipeline.archive import MB
from media_pipeline.document_formats import (
    DocumentProblem,
    decode_text,
    markdown_to_text,
    normalise_text,
)
from media_pipeline.documents import InvalidDocumentError, check_file_size

QUOTE_SUFFIXES = (".txt", ".md", ".csv", ".json")
_QUOTE_HEADERS = ("quote", "quotes", "text", "line", "content")
_SOURCE_HEADERS = ("source", "author", "by", "where")
_DELIMITERS = (",", ";", "\t")
_SNIFF_CHARS = 16_384
_BULLET = re.compile(r"(?:[-*+\u2022]|\d{1,4}[.)])\s+")
_MARKDOWN_HEADING_OR_RULE = re.compile(r" {0,3}(?:#{1,6}(?:\s|$)|(?:[-*_=] *){3,}$)")
# The dash before an attribution: "“Be yourself.” — Oscar Wilde".
_DASH = re.compile(r"\s(?:\u2014|\u2013|--?|~)\s*(?=\S)")
_LONG_DASHES = ("\u2014", "\u2013")
_MAX_SOURCE_CHARS = 200
_QUOTE_MARKS = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c", "\u00ab": "\u00bb",
                "\u2018": "\u2019", "'": "'"}  # fmt: skip


@dataclass(frozen=True)
class Quote:
    text: str
    source: str  # who said it or where it comes from; "" when the file does not say


@dataclass(frozen=True)
class QuoteLimits:
    max_file_bytes: int = 5 * MB
    max_quotes: int = 20_000
    max_quote_chars: int = 1000


class _Refused(Exception):
    """A problem with one line, row or item: `where` names it ("row 7")."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where, self.reason = where, reason


def parse_quotes(path: Path, *, name: str, limits: QuoteLimits = QuoteLimits()) -> list[Quote]:
    """Return the file's quotes in order, each once; InvalidDocumentError names the problem."""
    suffix = Path(name).suffix.lower()
    if suffix not in QUOTE_SUFFIXES:
        kind = f"{suffix} files" if suffix else "files without an extension"
        raise InvalidDocumentError(
            f"{name}: {kind} cannot be read as quotes; upload one of {', '.join(QUOTE_SUFFIXES)}."
        )
    check_file_size(path, name=name, max_bytes=limits.max_file_bytes)
    try:
        text = decode_text(path.read_bytes())
        if suffix == ".csv":
            raw = _csv_quotes(text)
        elif suffix == ".json":
            raw = _json_quotes(text)
        else:
            raw = _line_quotes(text, markdown=suffix == ".md")
        return _collected(raw, limits)
    except DocumentProblem as problem:
        raise InvalidDocumentError(f"{name}: {problem}.") from problem
    except _Refused as refused:
        raise InvalidDocumentError(f"{name}, {refused.where}: {refused.reason}.") from refused


def _collected(raw: Iterator[tuple[str, str, str]], limits: QuoteLimits) -> list[Quote]:
    quotes: dict[str, Quote] = {}
    for where, text, source in raw:
        text = _clean(text)
        if not text:
            raise _Refused(where, "the quote is empty")
        if len(text) > limits.max_quote_chars:
            raise _Refused(
                where, f"the quote is {len(text)} characters; the limit is {limits.max_quote_chars}"
            )
        key = text.casefold()
        if key not in quotes:
            if len(quotes) == limits.max_quotes:
                raise DocumentProblem(
                    f"has more than {limits.max_quotes:,} quotes; the limit is "
                    f"{limits.max_quotes:,}"
                )
            quotes[key] = Quote(text=text, source=" ".join(normalise_text(source).split()))
    if not quotes:
        raise DocumentProblem("has no quotes in it")
    return list(quotes.values())


def _clean(text: str) -> str:
    """Return the quote on one line, without the quotation marks around all of it."""
    text = " ".join(normalise_text(text).split())
    close = _QUOTE_MARKS.get(text[:1])
    if close and len(text) > 2 and text.endswith(close):
        inner = text[1:-1]
        # A straight quote inside means the marks belong to parts, as in '"A" and "B"'.
        if text[0] not in "\"'" or text[0] not in inner:
            text = inner.strip()
    return text


# --- One quote a line ----------------------------------------------------------------------


def _line_quotes(text: str, *, markdown: bool) -> Iterator[tuple[str, str, str]]:
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if markdown:
            if _MARKDOWN_HEADING_OR_RULE.match(line) or _is_table_rule(line):
                continue  # headings, rules and table rules are not quotes
            line = markdown_to_text(line)
        line = line.strip()
        if bullet := _BULLET.match(line):
            line = line[bullet.end() :]
        if line:
            yield (f"line {number}", *_with_source(line))


def _is_table_rule(line: str) -> bool:
    stripped = line.strip()
    return "|" in stripped and "-" in stripped and not stripped.strip("|:- \t")


def _with_source(line: str) -> tuple[str, str]:
    """Return (quote, source) from a line that ends with an attribution, else (line, "").

    The quote must be in quotation marks, or be a whole sentence before a long dash, so
    that a dash inside a quote ("We came - we saw") is not taken for one.
    """
    for dash in _DASH.finditer(line, max(0, len(line) - _MAX_SOURCE_CHARS)):
        text, source = line[: dash.start()].rstrip(), line[dash.end() :]
        if any(mark in source for mark in _QUOTE_MARKS) or source[-1] in ".!?":
            continue
        quoted = _QUOTE_MARKS.get(text[:1]) == text[-1:] and len(text) > 2
        sentence = (
            dash.group().strip() in _LONG_DASHES
            and text[-1:] in ".!?\u2026"
            and source[:1].isupper()
            and len(source) <= 60
        )
        if quoted or sentence:
            return text, source
    return line, ""


# --- CSV -----------------------------------------------------------------------------------


def _csv_quotes(text: str) -> Iterator[tuple[str, str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    quote_column, source_column, number = 0, 1, 0  # without a header: quote, then source
    try:
        for number, row in enumerate(reader, 1):
            cells = [cell.strip() for cell in row]
            if number == 1 and (header := _header_columns(cells)):
                quote_column, source_column = header
                continue
            if not any(cells):
                continue
            quote = cells[quote_column] if quote_column < len(cells) else ""
            has_source = source_column is not None and source_column < len(cells)
            yield f"row {number}", quote, cells[source_column] if has_source else ""
    except csv.Error as exc:
        raise _Refused(f"row {number + 1}", f"could not be read as CSV ({exc})") from exc


def _header_columns(cells: list[str]) -> tuple[int, int | None] | None:
    """Return the quote and source columns the header names, or None if it is no header."""
    names = [cell.lower() for cell in cells]
    quote = next((index for index, cell in enumerate(names) if cell in _QUOTE_HEADERS), None)
    if quote is None:
        return None
    source = next((index for index, cell in enumerate(names) if cell in _SOURCE_HEADERS), None)
    return quote, source


def _delimiter(text: str) -> str:
    """Return the delimiter that splits the first rows into the same number of columns.

    csv.Sniffer also guesses the quote character and gets it wrong on quotes full of
    apostrophes; this only compares comma, semicolon and tab, reading quotes as CSV does.
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS:
        sample = sample[: sample.rfind("\n") + 1]  # the last row may be cut short
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)]
        except csv.Error:
            continue
        widths = [width for width in widths if width]
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) if common > 1 else 0, common)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --- JSON ----------------------------------------------------------------------------------


def _json_quotes(text: str) -> Iterator[tuple[str, str, str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentProblem(
            f"could not be read as JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise DocumentProblem("could not be read as JSON (it is nested too deeply)") from exc
    except ValueError as exc:  # a number too long to convert
        raise DocumentProblem(f"could not be read as JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("quotes"), list):
        data = data["quotes"]
    if not isinstance(data, list):
        raise DocumentProblem(
            'holds no list of quotes: write a list of strings, a list of objects with "text" '
            'and "source", or an object whose "quotes" is such a list'
        )
    for number, item in enumerate(data, 1):
        where = f"item {number}"
        if isinstance(item, str):
            yield where, item, ""
            continue
        if not isinstance(item, dict):
            raise _Refused(where, f'is {_json_kind(item)}, not a string or an object with "text"')
        text_key = next((key for key in ("text", "quote") if key in item), None)
        if text_key is None:
            raise _Refused(where, 'has no "text" or "quote"')
        source_key = next((key for key in ("source", "author") if key in item), None)
        source = item[source_key] if source_key else ""
        for key, value in ((text_key, item[text_key]), (source_key, source)):
            if value is not None and not isinstance(value, str):
                raise _Refused(where, f'its "{key}" is {_json_kind(value)}, not a string')
        yield where, item[text_key] or "", source or ""


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    kinds = {int: "a number", float: "a number", list: "a list", dict: "an object"}
    return kinds.get(type(value), "a string")
