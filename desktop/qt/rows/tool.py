"""A tool call with its result: a one-line head (name, what it works on, its state); a click unfolds the input
and the output. A call that edits files shows its diff under the head (folded to its first lines when long)."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter

from desktop.core.diff import FileEdit, file_edits, numbered
from desktop.core.transcript import Row, RowKind, format_value
from desktop.core.worktree import DiffLineKind
from desktop.qt import theme
from desktop.qt.rows.base import (
    GAP_Y,
    MARGIN_X,
    MAX_CHARS,
    PAD,
    WRAP,
    Layout,
    RowActions,
    RowContext,
    RowRenderer,
    RowState,
    clip_lines,
)

TOOL_LINES = 40
FOLDED_DIFF_LINES = 12
MAX_DIFF_LINES = 2000
"""Lines of a diff an expanded row shows (Copy or View text has the whole input)."""
EDITS_CACHED = 256
DIFF_GAP = 6


Entry = tuple[str, str, "DiffLineKind | str | None"]
"""A line of a tool row's detail area: ("file" | "line" | "todo" | "more", text, diff line kind or todo status)."""
TODO_MARKS = {"completed": "☑", "in_progress": "◐", "pending": "☐"}


def diff_colors(kind: DiffLineKind) -> tuple[QColor, QColor | None]:
    """(text, background) of a diff line in the current theme."""
    t = theme.current()
    if kind is DiffLineKind.ADDED:
        return t.success, QColor("#173324" if t.dark else "#e6f6ec")
    if kind is DiffLineKind.REMOVED:
        return t.error_fg, t.error_bg
    if kind is DiffLineKind.HUNK:
        return t.muted, None
    return t.text, None


class ToolRenderer(RowRenderer):
    kinds = (RowKind.TOOL,)
    expandable = True
    monospace = True

    def __init__(self, ctx: RowContext) -> None:
        super().__init__(ctx)
        self._edits: OrderedDict[tuple[int, int, int], list[FileEdit] | None] = OrderedDict()
        """Diffs worked out, by (id(row), seq, version): layout and paint ask for them again and again."""

    def line_h(self) -> int:
        """The height of a line of the detail area (diff lines in the monospace font, todos in the body font)."""
        return max(self.ctx.fm_mono.height(), self.ctx.fm_bold.height())

    def edits(self, row: Row) -> list[FileEdit] | None:
        key = (id(row), row.seq, row.version)
        if key in self._edits:
            self._edits.move_to_end(key)
            return self._edits[key]
        found = file_edits(str(row.data.get("name") or ""), row.data.get("input"), row.data.get("patch"))
        self._edits[key] = found
        if len(self._edits) > EDITS_CACHED:
            self._edits.popitem(last=False)
        return found

    def _diff_entries(self, edits: list[FileEdit], expanded: bool) -> list[Entry]:
        """What the diff area shows, line by line: file headers, diff lines, and how many are folded away."""
        limit = MAX_DIFF_LINES if expanded else FOLDED_DIFF_LINES
        entries: list[Entry] = []
        shown = hidden = 0
        for edit in edits:
            counts = f"  +{edit.added} -{edit.removed}" if edit.lines else ""
            header = edit.path if edit.action in ("edit", "write", "notebook") else f"{edit.action}  {edit.path}"
            entries.append(("file", header + counts, None))
            for text, kind in numbered(edit):
                if shown < limit:
                    entries.append(("line", text, kind))
                    shown += 1
                else:
                    hidden += 1
        if hidden:
            entries.append(("more", f"… {hidden:,} more lines" + ("" if expanded else " (click to expand)"), None))
        return entries

    def layout(self, row: Row, width: int, state: RowState) -> Layout:
        ctx = self.ctx
        left = ctx.left(row)
        inner_w = width - left - MARGIN_X
        head_h = max(ctx.fm_bold.height(), 20)
        card_h = head_h + 2 * PAD - 4
        lay = Layout(0, extra={"head_h": head_h})
        edits = self.edits(row)
        plan = row.data.get("plan")
        entries: list[Entry] = []
        if edits:
            entries = self._diff_entries(edits, state.expanded)
        elif isinstance(plan, list):
            entries = [("todo", str(text), str(status)) for text, status in plan] or [("file", "(an empty plan)", None)]
        if entries:
            lay.extra["diff"] = entries
            line_h = self.line_h()
            top = GAP_Y + card_h + 1  # where _paint_diff starts: under the head
            if entries[-1][0] == "more":
                y = top + PAD // 4 + (len(entries) - 1) * line_h
                lay.buttons["more"] = QRect(left + PAD, y, inner_w - 2 * PAD, line_h)
            card_h += len(entries) * line_h + PAD // 2 + DIFF_GAP
        if state.expanded:
            blocks = []
            values = (("Input", row.data.get("input")), ("Output", row.data.get("output")))
            if edits:  # the diff shows the input; the output only matters when the edit failed
                values = (("Output", row.data.get("output") if row.data.get("is_error") else None),)
            for label, value in values:
                if value is None:
                    continue
                body, more = clip_lines(format_value(value)[:MAX_CHARS], TOOL_LINES)
                if more:
                    body += f"\n… {more:,} more lines (Copy or View text shows everything)"
                h = ctx.text_h(ctx.fm_mono, inner_w - 4 * PAD, body)
                blocks.append((label, body, h))
                card_h += ctx.fm_small.height() + 6 + h + 2 * PAD // 2 + 6
            lay.extra["blocks"] = blocks
        lay.card = QRectF(left, GAP_Y, inner_w, card_h)
        lay.buttons["toggle"] = QRect(left, GAP_Y, inner_w, head_h + 2 * PAD - 4)
        lay.height = int(card_h + 2 * GAP_Y)
        return lay

    def paint(self, p: QPainter, row: Row, lay: Layout, width: int, state: RowState) -> None:
        ctx = self.ctx
        t = theme.current()
        assert lay.card is not None
        ctx.card(p, lay.card, t.surface_alt, t.border)
        head = lay.buttons["toggle"].adjusted(PAD, 0, -PAD, 0)
        is_error = row.data.get("is_error")
        done = row.data.get("output") is not None
        chip = "✗ failed" if is_error else ("✓ done" if done else "running…")
        p.setFont(ctx.small)
        chip_w = ctx.fm_small.horizontalAdvance(chip) + 6
        p.setPen(t.error_fg if is_error else (t.success if done else t.muted))
        p.drawText(QRect(head.right() - chip_w, head.y(), chip_w, head.height()),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, chip)
        x = head.x()
        p.setFont(ctx.body)
        p.setPen(t.muted)
        p.drawText(QRect(x, head.y(), 16, head.height()), Qt.AlignmentFlag.AlignVCenter,
                   "▾" if state.expanded else "▸")
        x += 18
        name = str(row.data.get("name") or "tool")
        p.setFont(ctx.bold)
        p.setPen(t.text)
        name_w = ctx.fm_bold.horizontalAdvance(name)
        p.drawText(QRect(x, head.y(), name_w + 2, head.height()), Qt.AlignmentFlag.AlignVCenter, name)
        x += name_w + 10
        p.setFont(ctx.mono)
        p.setPen(t.muted)
        avail = head.right() - chip_w - 8 - x
        if avail > 20:
            summary = ctx.fm_mono.elidedText(row.text, Qt.TextElideMode.ElideRight, avail)
            p.drawText(QRect(x, head.y(), avail, head.height()), Qt.AlignmentFlag.AlignVCenter, summary)
        y = lay.buttons["toggle"].bottom() + 2
        inner = QRect(int(lay.card.x()) + PAD, 0, int(lay.card.width()) - 2 * PAD, 0)
        if "diff" in lay.extra:
            y = self._paint_diff(p, lay.extra["diff"], inner, y, state)
        if not state.expanded:
            return
        for label, body, h in lay.extra.get("blocks", []):
            p.setFont(ctx.small)
            p.setPen(t.muted)
            p.drawText(QRect(inner.x(), y, inner.width(), ctx.fm_small.height()), Qt.AlignmentFlag.AlignLeft,
                       label)
            y += ctx.fm_small.height() + 4
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(t.surface)
            p.drawRoundedRect(QRectF(inner.x(), y, inner.width(), h + PAD), 6, 6)
            p.setFont(ctx.mono)
            p.setPen(t.error_fg if (label == "Output" and is_error) else t.text)
            p.drawText(QRect(inner.x() + PAD, y + PAD // 2, inner.width() - 2 * PAD, h), WRAP, body)
            y += h + PAD + 8

    def _paint_diff(self, p: QPainter, entries: list[Entry], inner: QRect, y: int,
                    state: RowState) -> int:
        ctx = self.ctx
        t = theme.current()
        line_h = self.line_h()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(t.surface)
        p.drawRoundedRect(QRectF(inner.x(), y, inner.width(), len(entries) * line_h + PAD // 2), 6, 6)
        y += PAD // 4
        for what, text, kind in entries:
            row_rect = QRect(inner.x(), y, inner.width(), line_h)
            text_rect = row_rect.adjusted(PAD // 2, 0, -PAD // 2, 0)
            if what == "file":
                p.setFont(ctx.bold)
                p.setPen(t.text)
                p.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter,
                           ctx.fm_bold.elidedText(text, Qt.TextElideMode.ElideMiddle, text_rect.width()))
            elif what == "more":
                p.setFont(ctx.small)
                p.setPen(t.accent if state.hover == "more" or not state.expanded else t.muted)
                p.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, text)
            elif what == "todo":
                done = kind == "completed"
                active = kind == "in_progress"
                p.setFont(ctx.bold if active else ctx.body)
                p.setPen(t.success if done else (t.accent if active else t.text))
                p.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, f"{TODO_MARKS.get(str(kind), '☐')}  {text}")
            else:
                assert isinstance(kind, DiffLineKind)
                fg, bg = diff_colors(kind)
                if bg is not None:
                    p.fillRect(row_rect, bg)
                p.setFont(ctx.mono)
                p.setPen(fg)
                p.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, text)
            y += line_h
        return y + PAD // 2 - PAD // 4 + DIFF_GAP

    def activate(self, row: Row, name: str, actions: RowActions) -> bool:
        if name == "more":
            actions.toggle(row)
            return True
        return super().activate(row, name, actions)

    def title(self, row: Row) -> str:
        return f"Tool call: {row.data.get('name')}"
