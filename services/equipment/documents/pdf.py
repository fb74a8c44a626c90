"""A small PDF drawing kit on pydyf, for A4 documents written without WeasyPrint (a few ms each):
the standard Helvetica fonts in WinAnsiEncoding with their metrics, text measured, wrapped or cut
with "…", filled and stroked rectangles, tables, a QR code as one form XObject, pages filled from
the top, and the file written deterministically (no dates, an identifier derived from the
content). The certificate's layout (``certificate_pdf``) is drawn with it."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .data import MIN_MODULE_MM, MM_PER_INCH, QR_BORDER
from .labels import _qr

# --- the page (points; the origin at the bottom left of the page) --------------------------------

_PT = 72 / MM_PER_INCH  # points per millimetre
_PAGE_SIZE = (595.28, 841.89)  # A4
_LEFT = 15 * _PT
_RIGHT = _PAGE_SIZE[0] - 15 * _PT
_TOP = _PAGE_SIZE[1] - 12 * _PT
_BOTTOM = 15 * _PT
_WIDTH = _RIGHT - _LEFT
_PAD_X, _PAD_Y = 1.5 * _PT, 0.6 * _PT  # table cells
_LEADING = 1.3

_Color = tuple[float, float, float]
_INK: _Color = (0.102, 0.102, 0.102)
_GREY: _Color = (0.333, 0.333, 0.333)
_DARK: _Color = (0.2, 0.2, 0.2)
_BLUE: _Color = (0.043, 0.239, 0.42)
_RULE: _Color = (0.784, 0.784, 0.784)
_HEAD_FILL: _Color = (0.933, 0.949, 0.965)


def _afm_widths(table: str) -> tuple[int, ...]:
    """The 256 glyph widths (in 1/1000 em) of a WinAnsiEncoding font from its widths of codes
    32 to 255 (control characters, never printed, count as a space)."""
    widths = tuple(int(w) for w in table.split())
    assert len(widths) == 224
    return (widths[0],) * 32 + widths


# Helvetica and Helvetica-Bold, codes 32 to 255 of Windows-1252, from Adobe's AFM files (the 5
# unassigned codes as the bullet, as Acrobat does).
_HELVETICA = _afm_widths("""
278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556
556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778
667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 556 278 556
556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584 350
556 350 222 556 333 1000 556 556 333 1000 667 333 1000 350 611 350 350 222 222 333 333 350 556
1000 333 1000 500 333 944 350 500 667 278 333 556 556 556 556 260 556 333 737 370 556 584 333 737
333 400 584 333 333 333 556 537 278 333 333 365 556 834 834 834 611 667 667 667 667 667 667 1000
722 667 667 667 667 278 278 278 278 722 722 778 778 778 778 778 584 778 722 722 722 722 667 667
611 556 556 556 556 556 556 889 500 556 556 556 556 278 278 278 278 556 556 556 556 556 556 556
584 611 556 556 556 556 500 556 500
""")
_HELVETICA_BOLD = _afm_widths("""
278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556
556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 722 778
667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 556 333 611
611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 556 556 500 389 280 389 584 350
556 350 278 556 500 1000 556 556 333 1000 667 333 1000 350 611 350 350 278 278 500 500 350 556
1000 333 1000 556 333 944 350 500 667 278 333 556 556 556 556 280 556 333 737 370 556 584 333 737
333 400 584 333 333 333 611 556 278 333 333 365 556 834 834 834 611 722 722 722 722 722 722 1000
722 667 667 667 667 278 278 278 278 722 722 778 778 778 778 778 584 778 722 722 722 722 667 667
611 556 556 556 556 556 556 889 556 556 556 556 556 278 278 278 278 611 611 611 611 611 611 611
584 611 611 611 611 611 556 611 556
""")


@dataclass(frozen=True)
class _Font:
    resource: bytes  # its name in the page resources
    widths: tuple[int, ...]


_REGULAR = _Font(b"F1", _HELVETICA)
_BOLD = _Font(b"F2", _HELVETICA_BOLD)
_ELLIPSIS = b"\x85"  # "…" in Windows-1252
# Control characters and Unicode spaces as spaces (as HTML shows them), and the characters that
# Windows-1252 lacks but has an equivalent of: the French thousands separator among them.
_CP1252_EQUIVALENTS = str.maketrans(
    {
        **{
            chr(code): " "
            for code in (*range(32), *range(127, 160), 0x1680, *range(0x2000, 0x200B), 0x205F, 0x3000)
            if code != 10
        },
        "\u2028": "\n",
        "\u2029": "\n",
        "\u200b": None,
        "\u2007": "\xa0",
        "\u202f": "\xa0",
        "\u2010": "-",
        "\u2011": "-",
    }
)
_SPACES = re.compile(" +")
_TAG = re.compile(r"<[^>]*>")


def _encode(text: str, *, lines: bool = False) -> bytes:
    """``text`` in Windows-1252 for the WinAnsiEncoding fonts ("?" for what it cannot encode), its
    whitespace collapsed as HTML does; ``lines`` keeps the line breaks (CSS ``pre-line``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CP1252_EQUIVALENTS)
    if lines:
        text = "\n".join(_SPACES.sub(" ", line).strip(" ") for line in text.split("\n")).strip("\n")
    else:
        text = _SPACES.sub(" ", text.replace("\n", " ")).strip(" ")
    return text.encode("cp1252", errors="replace")


def _measure(data: bytes, font: _Font, size: float) -> float:
    widths = font.widths
    return sum(widths[b] for b in data) * size / 1000


def _clip(data: bytes, width: float, font: _Font, size: float) -> bytes:
    """``data`` cut with an ellipsis so that it is at most ``width`` points wide."""
    if _measure(data, font, size) <= width:
        return data
    return _ellipsize(data, width, font, size)


def _ellipsize(data: bytes, width: float, font: _Font, size: float) -> bytes:
    """The longest start of ``data`` followed by an ellipsis that is at most ``width`` wide."""
    widths, limit = font.widths, width * 1000 / size - font.widths[_ELLIPSIS[0]]
    total = 0
    for index, byte in enumerate(data):
        total += widths[byte]
        if total > limit:
            return data[:index].rstrip(b" ") + _ELLIPSIS
    return data.rstrip(b" ") + _ELLIPSIS


def _wrap(data: bytes, width: float, font: _Font, size: float, max_lines: int) -> list[bytes]:
    """``data`` broken into lines at most ``width`` wide (at spaces, and inside a word too long
    for a line, as CSS ``overflow-wrap: anywhere``), at most ``max_lines``: the last one then ends
    with an ellipsis."""
    widths, limit = font.widths, width * 1000 / size
    space = widths[32]
    lines: list[bytes] = []
    for paragraph in data.split(b"\n"):
        line, line_width = b"", 0
        for word in paragraph.split(b" "):
            word_width = sum(widths[b] for b in word)
            if line and line_width + space + word_width <= limit:
                line, line_width = line + b" " + word, line_width + space + word_width
                continue
            if line:
                lines.append(line)
            while word_width > limit:  # a word wider than the line: broken where the line ends
                total, cut = 0, len(word)
                for index, byte in enumerate(word):
                    total += widths[byte]
                    if total > limit:
                        cut = max(index, 1)
                        break
                lines.append(word[:cut])
                word = word[cut:]
                word_width = sum(widths[b] for b in word)
            line, line_width = word, word_width
        lines.append(line)
        if len(lines) > max_lines:
            break
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _ellipsize(lines[-1], width, font, size)
    return lines


@functools.lru_cache(maxsize=16_384)
def _num(value: float) -> bytes:
    """A number as the content streams write it (3 decimals at most). Cached: a page writes the
    same coordinates and sizes over and over (a certificate, some 1,500 numbers)."""
    return (f"{value:.3f}".rstrip("0").rstrip(".") or "0").encode()


@functools.lru_cache(maxsize=64)
def _rgb(color: _Color, operator: bytes) -> bytes:
    return b" ".join((*(_num(c) for c in color), operator))


def _text(ops: list[bytes], x: float, baseline: float, data: bytes, font: _Font, size: float, color: _Color) -> None:
    literal = data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    ops.append(
        b"BT /%s %s Tf %s %s %s Td (%s) Tj ET"
        % (font.resource, _num(size), _rgb(color, b"rg"), _num(x), _num(baseline), literal)
    )


def _rect(ops: list[bytes], x: float, y: float, width: float, height: float, color: _Color, stroke: float = 0) -> None:
    """A filled rectangle, or a stroked one ``stroke`` points wide; (x, y) is its bottom left."""
    box = b"%s %s %s %s re" % (_num(x), _num(y), _num(width), _num(height))
    if stroke:
        ops.append(b"%s %s w %s S" % (_rgb(color, b"RG"), _num(stroke), box))
    else:
        ops.append(b"%s %s f" % (_rgb(color, b"rg"), box))


def _baseline(top: float, size: float) -> float:
    """The baseline of a line of ``size`` point text whose line box starts at ``top``: the
    Helvetica glyphs (ascender 718, descender -207) centred in the line box."""
    return top - (size * _LEADING - 0.925 * size) / 2 - 0.718 * size


def _pdf_qr(payload: str, side_mm: float) -> tuple[int, float, list[bytes]]:
    """A QR code about ``side_mm`` wide: its side in modules (quiet zone included), the side of a module
    in points (on a 0.01 mm grid) and its drawing with a module as the unit, the origin at the
    bottom left: the dark modules as filled rectangles, one per run of dark modules in a row, all
    in one path (no seams between them)."""
    qr = _qr(payload)
    matrix = qr.matrix
    modules = len(matrix) + 2 * QR_BORDER
    scale = int(side_mm / modules * 100) / 100
    if scale < MIN_MODULE_MM:
        raise ValueError(
            f"the QR payload is too long: modules would be {scale} mm (at least {MIN_MODULE_MM} mm); shorten it"
        )
    ops = [b"0 g"]
    for row, cells in enumerate(matrix):
        y = modules - QR_BORDER - row - 1
        column, size = 0, len(cells)
        while column < size:
            if cells[column]:
                start = column
                while column < size and cells[column]:
                    column += 1
                ops.append(b"%d %d %d 1 re" % (QR_BORDER + start, y, column - start))
            column += 1
    ops.append(b"f")
    return modules, scale * _PT, ops


class _Canvas:
    """The pages' drawing operators, and where the next block goes on the current page."""

    def __init__(self) -> None:
        self.pages: list[list[bytes]] = []
        self.y = _TOP

    @property
    def ops(self) -> list[bytes]:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append([])
        self.y = _TOP

    def room(self, height: float) -> None:
        """A new page unless ``height`` points fit above the bottom margin (an empty page takes
        anything: a block taller than a page is cut by the page edge rather than looping)."""
        if self.y - height < _BOTTOM and self.y < _TOP:
            self.new_page()


# A line of a table cell or paragraph: runs of text (data, font, size, color) side by side.
_Run = tuple[bytes, _Font, float, _Color]


def _draw_line(ops: list[bytes], x: float, baseline: float, runs: Sequence[_Run]) -> None:
    for data, font, size, color in runs:
        if data:
            _text(ops, x, baseline, data, font, size, color)
            x += _measure(data + b" ", font, size)


@dataclass(frozen=True)
class _Cell:
    width: float
    lines: list[list[_Run]]
    header: bool = False


_CELL_SIZE = 8.0


def _cell(width: float, text: str, *, header: bool = False, font: _Font = _REGULAR, color: _Color = _INK,
          max_lines: int = 3, lines: bool = False) -> _Cell:  # fmt: skip
    font, color = (_BOLD, _DARK) if header else (font, color)
    data = _encode(text, lines=lines) or b"\x97"  # an em dash when empty
    wrapped = _wrap(data, width - 2 * _PAD_X, font, _CELL_SIZE, max_lines)
    return _Cell(width, [[(line, font, _CELL_SIZE, color)] for line in wrapped], header)


def _table_height(rows: Sequence[Sequence[_Cell]]) -> float:
    line = _CELL_SIZE * _LEADING
    return sum(max(len(c.lines) for c in row) * line + 2 * _PAD_Y for row in rows)


def _draw_table(canvas: _Canvas, rows: Sequence[Sequence[_Cell]]) -> None:
    ops, line = canvas.ops, _CELL_SIZE * _LEADING
    for row in rows:
        height = max(len(c.lines) for c in row) * line + 2 * _PAD_Y
        bottom, x = canvas.y - height, _LEFT
        for cell in row:
            if cell.header:
                _rect(ops, x, bottom, cell.width, height, _HEAD_FILL)
            _rect(ops, x, bottom, cell.width, height, _RULE, stroke=0.5)
            for index, runs in enumerate(cell.lines):
                _draw_line(ops, x + _PAD_X, _baseline(canvas.y - _PAD_Y - index * line, _CELL_SIZE), runs)
            x += cell.width
        canvas.y = bottom


def _heading(canvas: _Canvas, text: str, size: float, color: _Color, before: float, after: float) -> None:
    canvas.y -= before
    _text(canvas.ops, _LEFT, _baseline(canvas.y, size), _clip(_encode(text), _WIDTH, _BOLD, size), _BOLD, size, color)
    canvas.y -= size * 1.2 + after


def _paragraph(canvas: _Canvas, text: str, *, size: float = 8.5, font: _Font = _REGULAR, color: _Color = _INK,
               before: float = 0, after: float = 0, max_lines: int = 12) -> None:  # fmt: skip
    lines = _wrap(_encode(_TAG.sub("", text)), _WIDTH, font, size, max_lines)
    canvas.room(before + len(lines) * size * _LEADING + after)
    canvas.y -= before
    for line in lines:
        _text(canvas.ops, _LEFT, _baseline(canvas.y, size), line, font, size, color)
        canvas.y -= size * _LEADING
    canvas.y -= after


def _write(pages: Sequence[list[bytes]], qr_form: list[bytes], qr_modules: int, title: str) -> bytes:
    """The pages as a PDF 1.4 file: the two Helvetica fonts and the QR form shared by every page,
    uncompressed content streams, no dates and an /ID derived from the content, so that the same
    pages give the same bytes."""
    import pydyf

    pdf = pydyf.PDF()
    fonts = [
        pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": f"/{name}", "Encoding": "/WinAnsiEncoding"})
        for name in ("Helvetica", "Helvetica-Bold")
    ]
    for font in fonts:
        pdf.add_object(font)
    form = pydyf.Stream(
        qr_form,
        {
            "Type": "/XObject",
            "Subtype": "/Form",
            "BBox": pydyf.Array([0, 0, qr_modules, qr_modules]),
            "Resources": pydyf.Dictionary(),
        },
    )
    pdf.add_object(form)
    resources = pydyf.Dictionary(
        {
            "ProcSet": pydyf.Array(["/PDF", "/Text"]),
            "Font": pydyf.Dictionary({"F1": fonts[0].reference, "F2": fonts[1].reference}),
            "XObject": pydyf.Dictionary({"QR": form.reference}),
        }
    )
    pdf.add_object(resources)
    for ops in pages:
        content = pydyf.Stream(ops)
        pdf.add_object(content)
        pdf.add_page(
            pydyf.Dictionary(
                {
                    "Type": "/Page",
                    "Parent": pdf.pages.reference,
                    "MediaBox": pydyf.Array([0, 0, _PAGE_SIZE[0], _PAGE_SIZE[1]]),
                    "Resources": resources.reference,
                    "Contents": content.reference,
                }
            )
        )
    pdf.info["Title"] = pydyf.String(_encode(title).decode("cp1252"))
    pdf.info["Creator"] = pydyf.String("Passerelle")
    out = io.BytesIO()
    pdf.write(out, version=b"1.4", identifier=True)  # the /ID is the MD5 of the objects: no randomness
    return out.getvalue()
