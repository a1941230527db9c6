"""Reading uploaded documents: real files made here, and hostile ones refused by name."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

import docx
import pytest
from lxml import etree
from pypdf import PdfReader, PdfWriter

from media_pipeline.documents import (
    DocumentLimits,
    ExtractedText,
    InvalidDocumentError,
    extract_text,
)
from media_pipeline.errors import TimeLimitReached
from tests.bad_inputs.corpus import _compound_file

MB = 1024 * 1024
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"


def make_pdf(path: Path, pages: list[str]) -> Path:
    """Write a PDF whose pages show the given lines in Helvetica; equal pages share a stream."""
    contents = list(dict.fromkeys(pages))
    first_page = 4 + len(contents)
    kids = b" ".join(b"%d 0 R" % (first_page + index) for index in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for text in contents:
        shown = b" ".join(b"(%s) Tj T*" % _pdf_string(line) for line in text.split("\n"))
        stream = b"BT /F1 12 Tf 72 720 Td 14 TL " + shown + b" ET"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    for text in pages:
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font "
            b"<< /F1 3 0 R >> >> /Contents %d 0 R >>" % (4 + contents.index(text))
        )
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % table
    path.write_bytes(bytes(out))
    return path


def _pdf_string(line: str) -> bytes:
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1")


def encrypt_pdf(source: Path, target: Path, *, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    writer.write(target)
    return target


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Field notes", level=1)
    document.add_paragraph("The first paragraph comes first.")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, (("Name", "Role"), ("Ada", "Engineer")), strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("The closing paragraph comes last.")
    document.save(path)
    return path


def word_zip(path: Path, parts: dict[str, bytes], *, zeros: tuple[str, int] | None = None) -> Path:
    """Write a ZIP with Word's main part and `parts`; `zeros` adds a part of that many zeros,
    written a megabyte at a time so that a bomb never sits in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<document/>")
        for name, data in parts.items():
            archive.writestr(name, data)
        if zeros:
            name, size = zeros
            with archive.open(name, "w", force_zip64=True) as part:
                for _ in range(size // MB):
                    part.write(bytes(MB))
    return path


def refusal(path: Path, name: str, **limits: int) -> str:
    with pytest.raises(InvalidDocumentError) as caught:
        extract_text(path, name=name, limits=DocumentLimits(**limits))
    assert caught.value.permanent and caught.value.code == "invalid_document"
    return caught.value.message


# --- What is read ----------------------------------------------------------------------------


def test_plain_text_is_normalised(tmp_path):
    path = tmp_path / "notes.txt"
    decomposed = "Cafe\u0301"  # e + combining accent: NFC makes it one character
    path.write_bytes(
        codecs.BOM_UTF8
        + f"{decomposed} opens\x07 at nine.\r\n\r\n\r\n\r\nSecond   \tparagraph.\r\n".encode()
    )
    extracted = extract_text(path, name="notes.txt")
    assert extracted == ExtractedText(
        text="Caf\u00e9 opens at nine.\n\nSecond   \tparagraph.", format="text", pages=None
    )


def test_utf16_with_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("Grüße aus Köln.\n".encode("utf-16"))
    assert extract_text(path, name="notes.txt").text == "Grüße aus Köln."


def test_markdown_keeps_the_words_without_the_markup(tmp_path):
    path = tmp_path / "talk.md"
    path.write_text(
        "---\ntitle: Talk\n---\n# The *big* idea #\n\n"
        "Read **this** [guide](https://example.com/guide) ![diagram](d.png) now, "
        "snake_case stays and 2 * 3 too.\n<span>Inline</span> `code` and \\*stars\\*.\n\n"
        "> Quoted line\n- first point\n1. second point\n\n"
        "| Name | Role |\n|------|:----:|\n| Ada  | Lead |\n\n"
        "```python\nx = **kept**\n```\n[guide]: https://example.com/guide\n"
    )
    assert extract_text(path, name="talk.md").text == (
        "The big idea\n\nRead this guide now, snake_case stays and 2 * 3 too.\n"
        "Inline code and *stars*.\n\nQuoted line\nfirst point\nsecond point\n\n"
        "Name\tRole\nAda\tLead\n\nx = **kept**"
    )


def test_html_keeps_the_title_and_blocks_and_drops_scripts(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>The  Page</title><style>p{color:red}</style>"
        "<script>var secret = 1;</script></head><body><h1>Heading</h1>"
        "<p>First   line<br>second line &amp; more</p><script>alert('no')</script>"
        "<noscript>enable scripts</noscript><template>unused</template>"
        "<div hidden>hidden text</div><ul><li>one</li><li>two</li></ul>"
        "<table><tr><th>Name</th><th>Role</th></tr><tr><td>Ada</td><td>Lead</td></tr></table>"
        "<p>Closing <b>bold</b> words.</p></body></html>"
    )
    extracted = extract_text(path, name="page.html")
    assert extracted.format == "html"
    assert extracted.text == (
        "The Page\n\nHeading\n\nFirst line\nsecond line & more\n\none\ntwo\n\n"
        "Name\tRole\nAda\tLead\n\nClosing bold words."
    )


def test_html_external_entities_are_not_fetched(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text(
        '<!DOCTYPE html [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        "<html><body><p>Before &secret; after</p></body></html>"
    )
    assert "root:" not in extract_text(path, name="page.htm").text


def test_pdf_text_and_page_count(tmp_path):
    path = make_pdf(tmp_path / "report.pdf", ["Page one says hello.\nA second line.", "Page two."])
    assert extract_text(path, name="report.pdf") == ExtractedText(
        text="Page one says hello.\nA second line.\n\nPage two.", format="pdf", pages=2
    )


def test_docx_paragraphs_and_table_cells_in_document_order(tmp_path):
    path = make_docx(tmp_path / "notes.docx")
    extracted = extract_text(path, name="notes.docx")
    assert extracted == ExtractedText(
        text="Field notes\n\nThe first paragraph comes first.\n\nName\n\nRole\n\nAda\n\n"
        "Engineer\n\nThe closing paragraph comes last.",
        format="docx",
        pages=None,
    )


def test_docx_keeps_tracked_insertions_and_text_boxes_once_and_drops_deletions(tmp_path):
    document = docx.Document()
    paragraph = document.add_paragraph("Kept ")
    markup = etree.fromstring(
        f'<w:x xmlns:w="{W}" xmlns:mc="{MC}"><w:ins><w:r><w:t>inserted</w:t></w:r></w:ins>'
        "<w:del><w:r><w:delText>deleted</w:delText></w:r></w:del>"
        "<w:r><w:tab/><w:t>after a tab</w:t><w:br/><w:t>after a break</w:t></w:r>"
        "<w:r><mc:AlternateContent><mc:Choice><w:drawing><w:txbxContent><w:p><w:r>"
        "<w:t>In the box</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>In the box</w:t></w:r></w:p>"
        "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:x>"
    )
    paragraph._p.extend(list(markup))
    document.save(tmp_path / "edited.docx")
    assert extract_text(tmp_path / "edited.docx", name="edited.docx").text == (
        "In the box\n\nKept inserted\tafter a tab\nafter a break"
    )


def test_check_is_called_between_pages_and_can_stop_the_work(tmp_path):
    path = make_pdf(tmp_path / "long.pdf", [f"Page {number}." for number in range(5)])
    calls = []

    def check() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise TimeLimitReached("stopped")

    with pytest.raises(TimeLimitReached):
        extract_text(path, name="long.pdf", check=check)
    assert len(calls) == 3


# --- What is refused ---------------------------------------------------------------------------


def test_unsupported_suffix_is_refused_with_the_accepted_ones(tmp_path):
    path = tmp_path / "setup.exe"
    path.write_bytes(b"MZ\x90\x00")
    assert refusal(path, "setup.exe") == (
        "setup.exe: .exe files cannot be read; "
        "upload one of .txt, .md, .markdown, .html, .htm, .pdf, .docx."
    )


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.touch()
    assert refusal(path, "notes.txt") == "notes.txt: the file is empty."


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.txt"
    with path.open("wb") as handle:
        handle.truncate(2 * MB)  # sparse: nothing is written
    assert refusal(path, "big.txt", max_file_bytes=MB) == (
        "big.txt: the file is 2 MB; the limit is 1 MB."
    )


def test_binary_data_named_txt_is_not_text(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(256)) * 4)
    assert refusal(path, "blob.txt") == "blob.txt: is not text: it holds binary data."


def test_text_in_another_encoding_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café au lait".encode("latin-1"))
    assert refusal(path, "old.txt") == (
        "old.txt: is not UTF-8 text (byte 3 is not valid UTF-8); "
        "save it as UTF-8 and upload it again."
    )


def test_pdf_named_txt_says_what_it_is(tmp_path):
    path = make_pdf(tmp_path / "report.txt", ["Hello."])
    path.write_bytes(path.read_bytes() + bytes(16))  # binary, as real PDFs are
    assert refusal(path, "report.txt") == (
        "report.txt: is not text: it is a PDF; upload it with the .pdf extension."
    )


def test_text_named_pdf_is_refused(tmp_path):
    path = tmp_path / "fake.pdf"
    path.write_text("Just some notes, not a PDF.\n")
    assert refusal(path, "fake.pdf") == (
        "fake.pdf: is not a PDF (it does not start with %PDF): it looks like plain text."
    )


def test_damaged_pdf_is_refused_with_pypdfs_reason(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    message = refusal(path, "broken.pdf")
    assert message.startswith("broken.pdf: could not be read as a PDF (")
    assert message.endswith(").")


def test_password_protected_pdf_is_refused(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", ["Secret plans."])
    path = encrypt_pdf(plain, tmp_path / "secret.pdf", user_password="secret")
    assert refusal(path, "secret.pdf") == (
        "secret.pdf: is password-protected; save a copy without the password and upload that."
    )


def test_copy_protected_pdf_is_refused(tmp_path):
    plain = make_pdf(tmp_path / "plain.pdf", ["Open to read, closed to copy."])
    path = encrypt_pdf(plain, tmp_path / "locked.pdf", user_password="")
    assert refusal(path, "locked.pdf") == (
        "locked.pdf: is encrypted: it opens without a password but its author restricted "
        "copying its text; upload a copy saved without encryption."
    )


def test_pdf_over_the_page_limit_is_refused(tmp_path):
    path = make_pdf(tmp_path / "huge.pdf", ["Same page."] * 2001)
    assert refusal(path, "huge.pdf") == "huge.pdf: has 2,001 pages; the limit is 2,000."


def test_pdf_without_text_needs_ocr(tmp_path):
    path = make_pdf(tmp_path / "scan.pdf", ["", ""])
    assert refusal(path, "scan.pdf") == (
        "scan.pdf: has no text to learn from; scanned PDFs need OCR first."
    )


def test_pdf_over_the_text_limit_stops_at_the_page_that_passes_it(tmp_path):
    path = make_pdf(
        tmp_path / "wordy.pdf", [f"Page {number} has some words." for number in range(9)]
    )
    assert refusal(path, "wordy.pdf", max_text_chars=50) == (
        "wordy.pdf: has more than 50 characters of text by page 3 of 9; the limit is 50."
    )


def test_text_over_the_text_limit_is_refused(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("word " * 200)
    assert refusal(path, "long.txt", max_text_chars=100) == (
        "long.txt: has 999 characters of text; the limit is 100."
    )


def test_html_with_only_scripts_has_no_text(tmp_path):
    path = tmp_path / "app.html"
    path.write_text("<html><head><script>render()</script></head><body></body></html>")
    assert refusal(path, "app.html") == "app.html: has no text to learn from."


def test_docx_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_text("Plain words in a file named .docx")
    assert refusal(path, "notes.docx") == (
        "notes.docx: is not a Word document (.docx): it is not a ZIP archive, as every .docx is."
    )


def test_password_protected_word_file_is_refused(tmp_path):
    path = tmp_path / "secret.docx"
    path.write_bytes(
        _compound_file(
            {"EncryptionInfo": b"\x04\x00\x04\x00" + bytes(64), "EncryptedPackage": bytes(512)}
        )
    )
    assert refusal(path, "secret.docx") == (
        "secret.docx: is password-protected; save it without a password "
        "(File ▸ Info ▸ Protect Document) and upload it again."
    )


def test_old_word_file_is_refused_with_advice(tmp_path):
    path = tmp_path / "old.docx"
    path.write_bytes(_compound_file({"WordDocument": bytes(512)}))
    assert refusal(path, "old.docx") == (
        "old.docx: is an old Word 97-2003 (.doc) file; save it as .docx and upload it again."
    )


def test_zip_without_a_word_document_is_refused(tmp_path):
    path = tmp_path / "sheet.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
    assert refusal(path, "sheet.docx") == (
        "sheet.docx: is not a Word document (.docx): it is a ZIP archive without word/document.xml."
    )


def test_docx_zip_bomb_is_refused_before_decompressing(tmp_path):
    path = word_zip(tmp_path / "bomb.docx", {}, zeros=("word/media/zeros.bin", 300 * MB))
    assert path.stat().st_size < MB
    total = 300 * MB + len(b"<Types/>") + len(b"<document/>")
    assert refusal(path, "bomb.docx") == (
        f"bomb.docx: expands to {total / MB:.2f} MB when unpacked; the limit is 200 MB, "
        "and a file that expands this much looks like a ZIP bomb."
    )


def test_docx_part_that_expands_too_many_times_is_refused(tmp_path):
    path = word_zip(tmp_path / "dense.docx", {}, zeros=("word/media/zeros.bin", 20 * MB))
    message = refusal(path, "dense.docx")
    assert message.startswith("dense.docx: has a part (word/media/zeros.bin) that expands ")
    assert message.endswith(" times, to 20 MB; it looks like a ZIP bomb.")


def test_docx_with_too_many_entries_is_refused(tmp_path):
    path = word_zip(tmp_path / "crowded.docx", {f"word/part{n}.xml": b"<p/>" for n in range(20)})
    assert refusal(path, "crowded.docx", max_docx_entries=10) == (
        "crowded.docx: has 22 ZIP entries; the limit is 10."
    )


def test_docx_with_an_encrypted_part_is_refused(tmp_path):
    path = word_zip(tmp_path / "locked.docx", {"word/styles.xml": b"<styles/>"})
    data = bytearray(path.read_bytes())
    directory = data.rfind(b"PK\x01\x02")  # the last part's directory record
    data[directory + 8] |= 0x1  # its "encrypted" flag
    path.write_bytes(bytes(data))
    assert refusal(path, "locked.docx") == (
        "locked.docx: has an encrypted part (word/styles.xml); save it without a password "
        "and upload it again."
    )
