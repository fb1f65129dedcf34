"""Markdown rendered for a row: each top-level block (desktop/core/markdown.py) parsed by Qt's own Markdown
reader (md4c) into a QTextDocument, fenced code highlighted by Pygments. Documents are cached by (block text, width,
font, theme) with a bound on the characters they hold, so a streamed message re-parses only its last block."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
)

from desktop.core.markdown import Block, split_blocks
from desktop.qt import theme
from desktop.qt.rows.paragraphs import ParagraphLayouts
from desktop.qt.rows.text_runs import DocRun, TextRun

CODE_PAD = 8
"""Padding inside a fenced code block's box."""
_GITHUB = QTextDocument.MarkdownFeature.MarkdownDialectGitHub


_MARKUP = re.compile(r"[*_`\[\]<>#|\\~&]|^\s*([-+]|\d+[.)])\s|://|www\.|^\s{4}|^\s*[=-]+\s*$", re.MULTILINE)
"""Anything that could be Markdown syntax. A block without any is plain text: laid out as such, five times faster
than parsing it (most streamed prose has no markup in most of its paragraphs)."""


_TOUCHED = re.compile(r"[`\[<]|://|www\.")
"""What may give inline code or a link, the only fragments _touch_up changes (it costs as much as the parse)."""


@dataclass(slots=True)
class Piece:
    """One laid-out block of a row at (0, y) of the text area: a document, or plain text (doc None)."""

    doc: QTextDocument | None
    y: int
    height: int
    code: bool
    text: str = ""
    font: QFont | None = None

    def shown_text(self) -> str:
        """The text the reader sees (no Markdown syntax)."""
        return self.doc.toPlainText() if self.doc is not None else self.text


# Pygments is imported when first needed, not with the app: loading it, a lexer and the styles takes a few hundred
# milliseconds. warm_up() does that in a thread once the window is up, so the first code block does not stall.
_warm_up_started = False


def warm_up() -> None:
    global _warm_up_started
    if not _warm_up_started:
        _warm_up_started = True
        threading.Thread(target=_load_highlighting, name="pygments-warm-up", daemon=True).start()


def _load_highlighting() -> None:
    _lexer("python")
    _style(False)
    _style(True)


@lru_cache(maxsize=64)
def _lexer(language: str) -> Any:
    if not language:
        return None
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=2)
def _style(dark: bool) -> Any:
    from pygments.styles import get_style_by_name

    return get_style_by_name("github-dark" if dark else "default")


@lru_cache(maxsize=4096)
def _token_format(token: Any, dark: bool) -> QTextCharFormat:
    style = _style(dark).style_for_token(token)
    fmt = QTextCharFormat()
    if style.get("color"):
        fmt.setForeground(QColor("#" + style["color"]))
    if style.get("bold"):
        fmt.setFontWeight(QFont.Weight.Bold)
    if style.get("italic"):
        fmt.setFontItalic(True)
    return fmt


class MarkdownDocuments:
    CHARS = 300_000
    """Characters of parsed Markdown kept (a document with its layout costs a few hundred bytes a character)."""

    def __init__(self, mono: QFont, paragraphs: ParagraphLayouts) -> None:
        self.mono = mono
        self.paragraphs = paragraphs
        self._docs: OrderedDict[tuple[str, bool, str, int, str, bool], tuple[QTextDocument, int]] = OrderedDict()
        self._chars = 0
        self._option = QTextOption()
        self._option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)

    def __len__(self) -> int:
        """Blocks parsed and kept."""
        return len(self._docs)

    def pieces(self, text: str, font: QFont, width: int, gap: int) -> tuple[list[Piece], int]:
        """The blocks of `text` laid out at `width`, one under the other, and their total height."""
        dark = theme.current().dark
        out: list[Piece] = []
        y = 0
        width = max(20, width)
        for block in split_blocks(text):
            if out:
                y += gap
            if not block.code and _MARKUP.search(block.text) is None:
                plain = block.text.replace("\n", " ")  # as Markdown reads a paragraph's line breaks
                h = self.paragraphs.height(font, width, plain)
                out.append(Piece(None, y, h, False, plain, font))
            else:
                doc, h = self._get(block, font, width, dark)
                out.append(Piece(doc, y, h, block.code))
            y += h
        return out, max(y, 1)

    def _get(self, block: Block, font: QFont, width: int, dark: bool) -> tuple[QTextDocument, int]:
        key = (block.text, block.code, block.language, width, font.key(), dark)
        found = self._docs.get(key)
        if found is not None:
            self._docs.move_to_end(key)
            return found
        doc = QTextDocument()
        doc.setDocumentMargin(0)
        doc.setDefaultTextOption(self._option)
        if block.code:
            doc.setDefaultFont(self.mono)
            doc.setTextWidth(width - 2 * CODE_PAD)
            self._highlight(doc, block, dark)
            height = int(doc.size().height()) + 2 * CODE_PAD
        else:
            doc.setDefaultFont(font)
            doc.setTextWidth(width)
            doc.setMarkdown(block.text, _GITHUB)
            if _TOUCHED.search(block.text):
                self._touch_up(doc)
            height = int(doc.size().height())
        found = (doc, max(1, height))
        self._docs[key] = found
        self._chars += len(block.text) + 1
        while self._chars > self.CHARS and len(self._docs) > 1:
            dropped, _ = self._docs.popitem(last=False)
            self._chars -= len(dropped[0]) + 1
        return found

    def _highlight(self, doc: QTextDocument, block: Block, dark: bool) -> None:
        cursor = QTextCursor(doc)
        lexer = _lexer(block.language)
        if lexer is None:
            cursor.insertText(block.text)
            return
        for token, value in lexer.get_tokens(block.text):
            cursor.insertText(value, _token_format(token, dark))

    def _touch_up(self, doc: QTextDocument) -> None:
        """Links in the theme's accent (the reader gives them the palette's link colour at parse time), inline
        code on a tinted background."""
        t = theme.current()
        block = doc.begin()
        cursor = QTextCursor(doc)
        cursor.beginEditBlock()  # one relayout at the end, not one per fragment changed
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt = fragment.charFormat()
                change = None
                if fmt.isAnchor():
                    if fmt.foreground().color() != t.accent:
                        change = QTextCharFormat()
                        change.setForeground(t.accent)
                elif fmt.fontFixedPitch():
                    change = QTextCharFormat()
                    change.setBackground(t.surface_alt)
                    change.setFontFamilies(self.mono.families())
                if change is not None:
                    cursor.setPosition(fragment.position())
                    cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
                    cursor.mergeCharFormat(change)
                it += 1
            block = block.next()
        cursor.endEditBlock()


def draw_pieces(p: QPainter, pieces: list[Piece], left: int, top: int, width: int, color: QColor,
                paragraphs: ParagraphLayouts) -> None:
    t = theme.current()
    context = QAbstractTextDocumentLayout.PaintContext()
    palette = QPalette(context.palette)
    palette.setColor(QPalette.ColorRole.Text, color)
    palette.setColor(QPalette.ColorRole.Link, t.accent)
    context.palette = palette
    for piece in pieces:
        if piece.doc is None:
            assert piece.font is not None
            p.setPen(color)
            paragraphs.draw(p, piece.font, QRect(left, top + piece.y, width, piece.height), piece.text)
            continue
        p.save()
        p.translate(left, top + piece.y)
        if piece.code:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.surface_alt)
            p.drawRoundedRect(QRectF(0, 0, width, piece.height), 6, 6)
            p.translate(CODE_PAD, CODE_PAD)
        piece.doc.documentLayout().draw(p, context)
        p.restore()


def link_at(pieces: list[Piece], x: float, y: float) -> str | None:
    """The URL of the link at (x, y) of the text area, if any."""
    for piece in pieces:
        if piece.y <= y < piece.y + piece.height and piece.doc is not None and not piece.code:
            href = piece.doc.documentLayout().anchorAt(QPointF(x, y - piece.y))
            return href or None
    return None


@lru_cache(maxsize=64)
def _blocks(text: str) -> tuple[Block, ...]:
    """split_blocks, cached for piece_runs (a selected message streaming in is painted on every batch)."""
    return tuple(split_blocks(text))


def piece_runs(pieces: list[Piece], text: str, left: int, top: int, width: int,
               paragraphs: ParagraphLayouts) -> list[TextRun]:
    """Where draw_pieces() puts each block of `text` (the Markdown the pieces were made of), for selecting: plain
    blocks as their paragraph, rendered ones as their document, each mapped to its stretch of the source."""
    runs: list[TextRun] = []
    at = 0
    for piece, block in zip(pieces, _blocks(text), strict=False):
        found = text.find(block.text, at)  # blocks are stretches of the text, in order
        start = found if found >= 0 else at
        at = start + len(block.text)
        if piece.doc is None:
            assert piece.font is not None
            runs += paragraphs.runs(piece.font, QRect(left, top + piece.y, width, piece.height), piece.text, start)
        else:
            pad = CODE_PAD if piece.code else 0
            runs.append(DocRun(start, block.text, piece.doc, QPointF(left + pad, top + piece.y + pad)))
    return runs
