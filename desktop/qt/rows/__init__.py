"""One renderer per transcript row kind (issue 11 item 4), chosen from one table by the row's kind.

To add a row kind: a RowKind in desktop/core/transcript.py, a module here with its RowRenderer, and a line in
RENDERER_CLASSES."""

from __future__ import annotations

from desktop.core.transcript import RowKind
from desktop.qt.rows.assistant import AssistantRenderer
from desktop.qt.rows.base import Layout, RowActions, RowContext, RowRenderer, RowState
from desktop.qt.rows.error import ErrorRenderer
from desktop.qt.rows.generic import GenericRenderer
from desktop.qt.rows.header import HeaderRenderer
from desktop.qt.rows.image import ImageRenderer
from desktop.qt.rows.output import OutputRenderer
from desktop.qt.rows.pending import PendingRenderer
from desktop.qt.rows.permission import PermissionRenderer
from desktop.qt.rows.status import StatusRenderer
from desktop.qt.rows.thinking import ThinkingRenderer
from desktop.qt.rows.tool import ToolRenderer
from desktop.qt.rows.turn_end import TurnEndRenderer
from desktop.qt.rows.user import UserRenderer

RENDERER_CLASSES: tuple[type[RowRenderer], ...] = (
    HeaderRenderer, OutputRenderer, UserRenderer, PendingRenderer, AssistantRenderer, ThinkingRenderer,
    ErrorRenderer, ToolRenderer, PermissionRenderer, StatusRenderer, TurnEndRenderer, GenericRenderer,
    ImageRenderer,
)


def renderer_table(ctx: RowContext) -> dict[RowKind, RowRenderer]:
    """A renderer for every row kind, sharing `ctx`."""
    table: dict[RowKind, RowRenderer] = {}
    for cls in RENDERER_CLASSES:
        renderer = cls(ctx)
        for kind in cls.kinds:
            table[kind] = renderer
    missing = set(RowKind) - set(table)
    assert not missing, f"no renderer for {missing}"
    return table


__all__ = ["Layout", "RowActions", "RowContext", "RowRenderer", "RowState", "renderer_table"]
