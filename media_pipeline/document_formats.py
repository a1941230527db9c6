"""Text out of the plain formats: decoding bytes, tidying text, and HTML and Markdown to words.

Uploads are untrusted, so every pattern here is linear in its input: no pattern can
backtrack over a long run of the characters it failed on, and nested or paired
constructs (comments, emphasis) are handled by scanning instead of by `.*?`.
Problems are raised as DocumentProblem with the reason only; the caller names the file.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Callable

import lxml.etree
import lxml.html


class DocumentProblem(ValueError):
    """Why a file cannot be read, in words for its uploader, without the file's name."""


_BOMS = (
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
# C0 controls but tab and newline, DEL, C1 controls, stray byte-order marks, noncharacters.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_BINARY_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_BLANK_LINES = re.compile(r"\n{3,}")


def decode_text(data: bytes) -> str:
    """Return the text in `data`: UTF-8 (with or without a BOM) or UTF-16 with a BOM."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentProblem(
                    f"is not text: it starts with a {label} byte-order mark, but byte "
                    f"{exc.start + len(bom):,} is not valid {label}"
                ) from exc
            break
    else:
        if b"\0" in data:
            raise DocumentProblem("is not text: it holds binary data")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DocumentProblem(
                f"is not UTF-8 text (byte {exc.start:,} is not valid UTF-8); save it as "
                "UTF-8 and upload it again"
            ) from exc
    # Text has no NULs and hardly any other control characters; data that has them is not
    # made of words even when its bytes happen to decode.
    if "\0" in text or len(_BINARY_CONTROL.findall(text)) > max(8, len(text) // 100):
        raise DocumentProblem("is not text: it holds binary data")
    return text


def normalise_text(text: str) -> str:
    """Return text in NFC with \\n line ends, no control characters, single blank lines."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


# --- HTML ----------------------------------------------------------------------------------

_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "head", "svg", "math", "iframe", "object",
     "embed", "canvas", "select", "datalist"}
)  # fmt: skip
_PARAGRAPHS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "details", "dialog",
     "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
     "h4", "h5", "h6", "header", "hgroup", "hr", "main", "nav", "ol", "p", "pre", "section",
     "summary", "table", "ul"}
)  # fmt: skip
_SEPARATORS = {
    **dict.fromkeys(_PARAGRAPHS, "\n\n"),
    **dict.fromkeys(("br", "dd", "dt", "li", "tr", "option", "legend"), "\n"),
    **dict.fromkeys(("td", "th"), "\t"),
}
_SPACE_RUN = re.compile(r"\s+")
_SPACE_AROUND_TAB = re.compile(r" ?\t ?")
_ELEMENTS_PER_CHECK = 10_000


def html_to_text(text: str, check: Callable[[], None] = lambda: None) -> str:
    """Return the words of an HTML page: title first, blocks on lines of their own.

    lxml's HTML parser never fetches anything and does not read DTDs; scripts, styles,
    hidden elements and the head (but its title) are left out. `check` is called every
    few thousand elements and may raise to stop.
    """
    parser = lxml.html.HTMLParser(
        encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return ""  # lxml refuses a page with no elements at all: it has no text either
    title = root.find("head/title")
    output = _Output()
    if title is not None:
        output.text(title.text_content(), False)
        output.separator("\n\n")
    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    skipping, preformatted = False, 0
    for count, (event, element) in enumerate(walker):
        if count % _ELEMENTS_PER_CHECK == 0:
            check()
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if not tag or tag in _DROPPED or element.get("hidden") is not None:
                walker.skip_subtree()  # its "end" comes next, and only its tail is kept
                skipping = True
                continue
            preformatted += tag == "pre"
            output.separator(_SEPARATORS.get(tag, ""))
            output.text(element.text, preformatted > 0)
        else:
            if skipping:
                skipping = False
            else:
                output.separator(_SEPARATORS.get(tag, ""))
                preformatted -= tag == "pre"
            output.text(element.tail, preformatted > 0)
    lines = (_SPACE_AROUND_TAB.sub("\t", line).strip() for line in output.joined().split("\n"))
    return "\n".join(lines)


class _Output:
    """The page's text as it is walked; separators in a row merge into the strongest."""

    _STRENGTH = {"": 0, "\t": 1, "\n": 2, "\n\n": 3}

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._separated = True  # at the start, as after a separator

    def separator(self, separator: str) -> None:
        if not separator:
            return
        if self._separated and self._parts:
            if self._STRENGTH[separator] > self._STRENGTH[self._parts[-1]]:
                self._parts[-1] = separator
        elif self._parts:
            self._parts.append(separator)
        self._separated = True

    def text(self, text: str | None, preformatted: bool) -> None:
        if not text:
            return
        if not preformatted:
            text = _SPACE_RUN.sub(" ", text)
            if text == " " and self._separated:
                return
        self._parts.append(text)
        self._separated = False

    def joined(self) -> str:
        return "".join(self._parts)


# --- Markdown ------------------------------------------------------------------------------

# Each pattern runs once over the whole text (MULTILINE), not once a line: a file of a
# million one-word lines costs no more than a file of long ones.
# YAML metadata at the very top (Jekyll, Hugo, Obsidian): settings, not words.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?:(?!---[ \t]*\n)[^\n]{0,500}\n){0,100}---[ \t]*\n")
_FENCE_LINE = re.compile(r"^ {0,3}(?:```|~~~)[^\n]*+(?:\n|\Z)", re.MULTILINE)
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)++", re.MULTILINE)
_SETEXT_OR_RULE = re.compile(r"^ {0,3}(?:=++|-++|(?:[-*_][ \t]*+){3,})[ \t]*+$", re.MULTILINE)
_TABLE_RULE = re.compile(r"^(?=[^\n]*?\|)(?=[^\n]*?-)[ \t|:-]++(?:\n|\Z)", re.MULTILINE)
_REFERENCE_DEFINITION = re.compile(
    r"^ {0,3}\[[^\[\]\n]{1,999}\]:[ \t][^\n]*+(?:\n|\Z)", re.MULTILINE
)
_HEADING = re.compile(r"^ {0,3}#{1,6}(?=[ \t]|$)([^\n]*+)", re.MULTILINE)
_BULLET = re.compile(r"^[ \t]*+(?:[-*+]|\d{1,3}[.)])[ \t]++", re.MULTILINE)
_TABLE_ROW = re.compile(r"^(?:[ \t]*+\|[^\n]*+|[^\n]*\|[ \t]*+)$", re.MULTILINE)
_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_PROTECTED = re.compile("[\U000f0000-\U000f007f]")
# Brackets cannot nest inside these, so each attempt stops at the next bracket: linear.
_IMAGE = re.compile(r"!\[[^\[\]\n]{0,999}\](?:\([^()\n]{0,2000}\)|\[[^\[\]\n]{0,999}\])?")
_LINK = re.compile(r"\[([^\[\]\n]{1,999})\](?:\([^()\n]{0,2000}\)|\[[^\[\]\n]{0,999}\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]{1,2000})>")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,30}(?:\s[^<>]{0,2000})?/?>")
# Emphasis markers at a word's edge; "snake_case", "2 * 3" and "~5 km" keep theirs.
_EMPHASIS = re.compile(
    r"(?<![\w*_~])(?:[*_]{1,3}|~~)(?=[^\s*_~])|(?<=[^\s*_~])(?:[*_]{1,3}|~~)(?![\w*_~])"
)
_SPACES = re.compile(r"(?<= ) ++|^ ++", re.MULTILINE)


def markdown_to_text(text: str) -> str:
    """Return the words of a Markdown document, without its markup; code is kept as is."""
    text = _ESCAPED.sub(lambda match: chr(0xF0000 + ord(match.group(1))), text)
    text = _drop_comments(_FRONT_MATTER.sub("", text, count=1))
    # Splitting at fence lines leaves prose and code in turn; an unclosed fence runs on.
    chunks = _FENCE_LINE.split(text)
    chunks[::2] = [_markdown_prose(chunk) for chunk in chunks[::2]]
    return _PROTECTED.sub(lambda match: chr(ord(match.group()) - 0xF0000), "".join(chunks))


def _markdown_prose(text: str) -> str:
    text = _BLOCKQUOTE.sub("", text)
    text = _SETEXT_OR_RULE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _REFERENCE_DEFINITION.sub("", text)
    text = _HEADING.sub(_heading_text, text)
    text = _BULLET.sub("", text)
    text = _TABLE_ROW.sub(_table_cells, text)
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub("", text).replace("`", "")
    return _SPACES.sub("", text)


def _heading_text(match: re.Match) -> str:
    """Return a heading's words without its closing hashes ("## Title ##")."""
    words = match.group(1).strip()
    unclosed = words.rstrip("#")
    if unclosed != words and (not unclosed or unclosed[-1] in " \t"):
        return unclosed.rstrip()
    return words


def _table_cells(match: re.Match) -> str:
    return "\t".join(cell.strip() for cell in match.group().strip().strip("|").split("|"))


def _drop_comments(text: str) -> str:
    """Return the text without <!-- comments -->; an unclosed one runs to the end."""
    parts = []
    position = 0
    while (start := text.find("<!--", position)) >= 0:
        parts.append(text[position:start])
        end = text.find("-->", start + 4)
        position = len(text) if end < 0 else end + 3
    parts.append(text[position:])
    return "".join(parts)
