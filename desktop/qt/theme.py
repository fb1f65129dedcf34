"""Colors, fonts and painted icons. Everything is drawn here, so the app needs no image files."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QProxyStyle, QStyle

from desktop.core.status import Color


@dataclass(frozen=True)
class Theme:
    dark: bool
    window: QColor
    surface: QColor  # cards, sidebar
    surface_alt: QColor  # hover, code blocks
    border: QColor
    text: QColor
    muted: QColor
    accent: QColor
    accent_text: QColor
    user_bubble: QColor
    user_text: QColor
    error_bg: QColor
    error_fg: QColor
    warn_bg: QColor
    warn_fg: QColor
    success: QColor
    stderr: QColor
    selection: QColor

    def status_color(self, color: Color) -> QColor:
        return {
            Color.GREY: QColor("#8b93a1"),
            Color.GREEN: QColor("#22a55b"),
            Color.YELLOW: QColor("#e0a400"),
            Color.RED: QColor("#e5484d"),
        }[color]

    def badge_colors(self, status: str) -> tuple[QColor, QColor]:
        """(background, foreground) of a session status badge."""
        table = {
            "running": ("#2563eb", "#ffffff"),
            "needs_approval": ("#e0a400", "#1f1600"),
            "error": ("#e5484d", "#ffffff"),
            "interrupted": ("#f08c2e", "#1f1000"),
            "exited": ("#6b7280" if not self.dark else "#4b5563", "#ffffff"),
            "idle": ("#d9dde3" if not self.dark else "#3a404a", "#30353d" if not self.dark else "#d4d8de"),
        }
        bg, fg = table.get(status, table["idle"])
        return QColor(bg), QColor(fg)


LIGHT = Theme(
    dark=False,
    window=QColor("#f6f7f9"), surface=QColor("#ffffff"), surface_alt=QColor("#eef0f3"),
    border=QColor("#dde1e6"), text=QColor("#1d2127"), muted=QColor("#6b7380"),
    accent=QColor("#3b5bdb"), accent_text=QColor("#ffffff"),
    user_bubble=QColor("#3b5bdb"), user_text=QColor("#ffffff"),
    error_bg=QColor("#fdecec"), error_fg=QColor("#c0262d"),
    warn_bg=QColor("#fff6dc"), warn_fg=QColor("#7a5600"),
    success=QColor("#1f8f50"), stderr=QColor("#b4531a"), selection=QColor("#d6e0ff"),
)

DARK = Theme(
    dark=True,
    window=QColor("#16181d"), surface=QColor("#1e2128"), surface_alt=QColor("#262a33"),
    border=QColor("#323743"), text=QColor("#e6e8ec"), muted=QColor("#9299a6"),
    accent=QColor("#6f8cff"), accent_text=QColor("#0b1020"),
    user_bubble=QColor("#3451c6"), user_text=QColor("#f3f5ff"),
    error_bg=QColor("#3a1d20"), error_fg=QColor("#ff8f94"),
    warn_bg=QColor("#3a3016"), warn_fg=QColor("#ffd36b"),
    success=QColor("#4cc38a"), stderr=QColor("#f0a36b"), selection=QColor("#2c3a66"),
)

_current: Theme = LIGHT
_system_palette_dark: bool | None = None


def current() -> Theme:
    return _current


def system_prefers_dark() -> bool:
    choice = os.environ.get("NIGHTSHIFT_THEME", "").lower()
    if choice in ("dark", "light"):
        return choice == "dark"
    app = QGuiApplication.instance()
    if app is None:
        return False
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    global _system_palette_dark
    if _system_palette_dark is None:
        # The platform's palette, looked at before ours replaces it (after that it would only echo our choice).
        _system_palette_dark = QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    return _system_palette_dark


def apply(app: QGuiApplication, dark: bool | None = None) -> Theme:
    """Fusion plus our palette: the same polished look on every platform, light or dark."""
    global _current
    system_dark = system_prefers_dark()  # looked at before our palette replaces the platform's
    theme = DARK if (system_dark if dark is None else dark) else LIGHT
    _current = theme
    if hasattr(app, "setStyle"):
        app.setStyle(_NoButtonIconsStyle("Fusion"))
    pal = QPalette()
    role = QPalette.ColorRole
    pal.setColor(role.Window, theme.window)
    pal.setColor(role.WindowText, theme.text)
    pal.setColor(role.Base, theme.surface)
    pal.setColor(role.AlternateBase, theme.surface_alt)
    pal.setColor(role.Text, theme.text)
    pal.setColor(role.Button, theme.surface)
    pal.setColor(role.ButtonText, theme.text)
    pal.setColor(role.Highlight, theme.accent)
    pal.setColor(role.HighlightedText, theme.accent_text)
    pal.setColor(role.ToolTipBase, theme.surface)
    pal.setColor(role.ToolTipText, theme.text)
    pal.setColor(role.PlaceholderText, theme.muted)
    pal.setColor(role.Link, theme.accent)
    pal.setColor(role.Mid, theme.border)
    pal.setColor(role.Midlight, theme.surface_alt)
    pal.setColor(QPalette.ColorGroup.Disabled, role.Text, theme.muted)
    pal.setColor(QPalette.ColorGroup.Disabled, role.ButtonText, theme.muted)
    pal.setColor(QPalette.ColorGroup.Disabled, role.WindowText, theme.muted)
    app.setPalette(pal)
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    return theme


class _NoButtonIconsStyle(QProxyStyle):
    """Fusion without the stock icons on dialog buttons (they look dated next to flat buttons)."""

    def styleHint(self, hint: QStyle.StyleHint, option: object = None, widget: object = None,
                  returnData: object = None) -> int:
        if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return super().styleHint(hint, option, widget, returnData)  # type: ignore[arg-type]


def mono_font(size_delta: float = -0.5) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    base = QGuiApplication.font().pointSizeF() if QGuiApplication.instance() else 10.0
    font.setPointSizeF(max(7.0, base + size_delta))
    return font


def dot_pixmap(color: QColor, size: int = 12, ring: bool = True) -> QPixmap:
    pm = QPixmap(size * 2, size * 2)
    pm.setDevicePixelRatio(2.0)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if ring:
        halo = QColor(color)
        halo.setAlpha(60)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(halo)
        p.drawEllipse(QRectF(0, 0, size, size))
    p.setBrush(color)
    p.setPen(Qt.PenStyle.NoPen)
    inset = size * 0.2 if ring else 0.5
    p.drawEllipse(QRectF(inset, inset, size - 2 * inset, size - 2 * inset))
    p.end()
    return pm


def app_icon(status: QColor | None = None, count: int = 0, size: int = 64) -> QIcon:
    """The Nightshift mark (a crescent on a rounded square), tinted by the connection status, with a badge
    counting running agents."""
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    body = QColor("#27304a")
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(body)
    p.drawRoundedRect(QRectF(s * 0.04, s * 0.04, s * 0.92, s * 0.92), s * 0.22, s * 0.22)
    moon = QPainterPath()
    moon.addEllipse(QRectF(s * 0.2, s * 0.2, s * 0.56, s * 0.56))
    cut = QPainterPath()
    cut.addEllipse(QRectF(s * 0.36, s * 0.1, s * 0.5, s * 0.5))
    p.setBrush(QColor("#f5d76e"))
    p.drawPath(moon.subtracted(cut))
    if status is not None:
        p.setBrush(status)
        p.setPen(QPen(body, s * 0.05))
        p.drawEllipse(QPointF(s * 0.76, s * 0.76), s * 0.17, s * 0.17)
    if count > 0:
        r = QRectF(s * 0.52, s * 0.0, s * 0.48, s * 0.4)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#e5484d"))
        p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(s * 0.3))
        p.setFont(font)
        p.setPen(QColor("#ffffff"))
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    p.end()
    return QIcon(pm)
