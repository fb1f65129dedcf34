"""Colors, fonts and painted icons. Everything is drawn here, so the app needs no image files."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
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
from PySide6.QtWidgets import QApplication, QComboBox, QProxyStyle, QStyle, QWidget

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


def apply_choice(app: QGuiApplication, choice: str) -> Theme:
    """A theme choice (settings.THEMES: "system", "light" or "dark") on the whole application: palette, style
    and style sheet."""
    theme = apply(app, dark=None if choice == "system" else choice == "dark")
    if isinstance(app, QApplication):
        app.setStyleSheet(stylesheet(theme))
    return theme


class ThemeChoice(QComboBox):
    """Follow the system, light or dark (settings.THEMES); `chosen` tells which when the user changes it."""

    chosen = Signal(str)
    CHOICES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))

    def __init__(self, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("themeChoice")
        for value, label in self.CHOICES:
            self.addItem(label, value)
        self.setCurrentIndex(max(0, self.findData(current)))
        self.currentIndexChanged.connect(lambda _i: self.chosen.emit(self.currentData()))


def stylesheet(t: Theme) -> str:
    """The application's style sheet in these colours (on the application, so dialogs share the look)."""
    names = ("window", "surface", "surface_alt", "border", "text", "muted", "accent", "accent_text",
             "error_fg", "error_bg", "warn_bg", "warn_fg")
    c = {k: getattr(t, k).name() for k in names}
    return f"""
    QMainWindow, #content, #transcript, #emptyPage {{ background: {c['window']}; }}
    #sidebar {{ background: {c['surface']}; border-right: 1px solid {c['border']}; }}
    #sessions {{ background: {c['surface']}; border: none; border-right: 1px solid {c['border']}; }}
    #appTitle {{ font-size: 15pt; font-weight: 700; color: {c['text']}; }}
    #sectionLabel {{ color: {c['muted']}; font-size: 8.5pt; font-weight: 600; letter-spacing: 1px; }}
    QPushButton {{ padding: 6px 14px; border-radius: 8px; border: 1px solid {c['border']};
                   background: {c['surface']}; color: {c['text']}; }}
    QPushButton:hover {{ background: {c['surface_alt']}; }}
    QPushButton:disabled {{ color: {c['muted']}; }}
    QPushButton#primary {{ background: {c['accent']}; color: {c['accent_text']};
                           border: 1px solid {c['accent']}; font-weight: 600; }}
    QPushButton#primary:hover {{ background: {t.accent.darker(110).name()}; }}
    QPushButton#primary:disabled {{ background: {c['surface_alt']}; border-color: {c['border']};
                                    color: {c['muted']}; }}
    QPushButton#danger {{ color: {c['error_fg']}; border-color: {c['error_fg']}; font-weight: 600; }}
    QPushButton#danger:hover {{ background: {c['error_bg']}; }}
    #composer {{ background: {c['window']}; border-top: 1px solid {c['border']}; }}
    #composerEdit {{ border: 1px solid {c['border']}; border-radius: 10px; padding: 5px 8px;
                     background: {c['surface']}; color: {c['text']}; }}
    #composerEdit:focus {{ border: 1px solid {c['accent']}; }}
    #composerEdit:disabled {{ background: {c['window']}; }}
    #jumpToLatest {{ background: {c['accent']}; color: {c['accent_text']}; border: none;
                     border-radius: 15px; padding: 6px 16px; font-weight: 600; }}
    #sessionFilter {{ margin: 2px 12px 6px 12px; border: 1px solid {c['border']}; border-radius: 6px;
                      padding: 3px 6px; background: {c['window']}; color: {c['text']}; }}
    #findBar {{ background: {c['surface']}; border-bottom: 1px solid {c['border']}; }}
    #findEdit {{ border: 1px solid {c['border']}; border-radius: 6px; padding: 3px 6px;
                 background: {c['window']}; color: {c['text']}; }}
    #findEdit:focus {{ border: 1px solid {c['accent']}; }}
    #findCount {{ color: {c['muted']}; }}
    #sessionHeader {{ background: {c['window']}; border-bottom: 1px solid {c['border']}; }}
    #sessionTitle {{ font-size: 13pt; font-weight: 700; color: {c['text']}; }}
    #sessionSubtitle {{ color: {c['muted']}; }}
    QScrollBar:vertical {{ background: transparent; width: 11px; margin: 2px 2px 2px 0; }}
    QScrollBar::handle:vertical {{ background: {c['border']}; border-radius: 4px; min-height: 36px; }}
    QScrollBar::handle:vertical:hover {{ background: {c['muted']}; }}
    QScrollBar::add-line:vertical, QScrollBar::sub-line:vertical {{ height: 0; }}
    QScrollBar::add-page:vertical, QScrollBar::sub-page:vertical {{ background: none; }}
    QToolButton#iconButton::menu-indicator {{ image: none; width: 0; }}
    #banner {{ background: {c['warn_bg']}; color: {c['warn_fg']}; border-top: 1px solid {c['border']};
               padding: 7px 16px; }}
    #statusIndicator {{ border-top: 1px solid {c['border']}; }}
    #statusLabel {{ color: {c['text']}; font-weight: 600; }}
    #statusDetail {{ color: {c['muted']}; font-size: 8.5pt; }}
    QToolButton#retryNow {{ color: {c['accent']}; border: none; font-weight: 600; padding: 2px 4px; }}
    QToolButton#retryNow:hover {{ text-decoration: underline; }}
    QToolButton#iconButton {{ border: none; border-radius: 6px; padding: 4px 8px; color: {c['muted']};
                              font-size: 13pt; }}
    QToolButton#iconButton:hover {{ background: {c['surface_alt']}; color: {c['text']}; }}
    #emptyTitle {{ font-size: 16pt; font-weight: 700; color: {c['text']}; }}
    #emptyText {{ color: {c['muted']}; }}
    QSplitter::handle {{ background: {c['border']}; }}
    QToolTip {{ background: {c['surface']}; color: {c['text']}; border: 1px solid {c['border']};
                padding: 6px; }}
    """


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


_dots: dict[tuple[int, int, bool], QPixmap] = {}


def dot_pixmap(color: QColor, size: int = 12, ring: bool = True) -> QPixmap:
    # Drawn once per colour and size: a status dot is set on every status change (each frame of a catch-up
    # changes the count to go), and antialiased painting cost a third of the GUI's time there.
    key = (QColor(color).rgba(), size, ring)
    cached = _dots.get(key)
    if cached is None:
        cached = _dots[key] = _draw_dot(QColor(color), size, ring)
    return cached


def _draw_dot(color: QColor, size: int, ring: bool) -> QPixmap:
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
