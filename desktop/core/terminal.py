"""A command session's output as a terminal shows it, without Qt: lines of styled spans.

The runner journals what the program wrote, escape codes and carriage returns included (runner/process.py), so a
view that interprets the journal's text shows the same thing live and after a catch-up. This interpreter covers
what line-oriented programs use:

- SGR (`ESC [ ... m`): bold, dim, italic, underline, inverse, strikethrough, and foreground/background colours from
  the 16-colour, 256-colour and 24-bit palettes (`;` and `:` forms);
- carriage return, backspace and tab, and the in-line cursor and erase sequences progress bars use (`ESC [ K`,
  `G`, `C`, `D`, `X`), so a line redrawn in place stays one line;
- everything else (cursor movement across lines, screen clears, modes, window titles, hyperlink markers, other
  escape sequences and control characters) is dropped whole: never shown raw.

A colour set on one line lasts until it is reset, as in a terminal: a view keeps, per output row, the SGR state the
row starts in (`carried_sgr`, from the rows before it) and interprets that prefix plus the row's text.

Memory is bounded: at most `max_lines` lines (the oldest go first) of at most `max_line_chars` characters each.
Each character takes one column (no wide-character or combining-mark widths).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import TypeAlias

Color: TypeAlias = int | str | None
"""A palette index 0-255 (0-15 are the 16 basic colours), "#rrggbb" for a 24-bit colour, or None: the view's
default. Renderers may map 0-15 to their theme; `color_hex` gives xterm's values."""


@dataclass(frozen=True, slots=True)
class Style:
    fg: Color = None
    bg: Color = None
    bold: bool = False
    dim: bool = False
    italic: bool = False
    underline: bool = False
    inverse: bool = False
    """Swap fg and bg when drawing (the renderer does it, with its defaults for None)."""
    strike: bool = False


PLAIN = Style()


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: Style


_BASIC = (
    "#000000", "#cd0000", "#00cd00", "#cdcd00", "#0000ee", "#cd00cd", "#00cdcd", "#e5e5e5",
    "#7f7f7f", "#ff0000", "#00ff00", "#ffff00", "#5c5cff", "#ff00ff", "#00ffff", "#ffffff",
)
_CUBE = (0, 95, 135, 175, 215, 255)


def color_hex(color: int | str) -> str:
    """"#rrggbb" for a palette index (xterm's palette) or a 24-bit colour."""
    if isinstance(color, str):
        return color
    if color < 16:
        return _BASIC[color]
    if color < 232:
        i = color - 16
        r, g, b = _CUBE[i // 36], _CUBE[i // 6 % 6], _CUBE[i % 6]
    else:
        r = g = b = 8 + 10 * (color - 232)
    return f"#{r:02x}{g:02x}{b:02x}"


class Line:
    """One line: its spans (adjacent spans differ in style), its length and whether text past the limit was cut."""

    __slots__ = ("clipped", "length", "spans")

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.length = 0
        self.clipped = False

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)

    def __repr__(self) -> str:
        return f"Line({self.spans!r})"


# What needs more than appending: C0 controls (tab and newline too), DEL and the C1 range.
_SPECIAL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CSI = re.compile(r"\[([0-?]*)([ -/]*)([@-~])")
_CSI_PREFIX = re.compile(r"\[[0-?]*[ -/]*\Z")
_STRING_END = re.compile(r"\x07|\x1b\\")
_ESC_OTHER = re.compile(r"[ -/]*[0-~]")
_ESC_OTHER_PREFIX = re.compile(r"[ -/]*\Z")
MAX_SEQUENCE = 4096
"""An escape sequence longer than this (an unterminated title, say) is dropped as far as it got."""
TAB = 8
MAX_CACHED_SGR = 1024


def _number(text: str, default: int) -> int:
    return int(text) if text.isdigit() and len(text) < 8 else default


class Terminal:
    """Feed it a session's output text; read its lines of spans.

    `feed(text)` takes raw text where "\\n" ends a line; `feed_output(event)` takes an `output` event as the journal
    has it (a line, or a part of one with `truncated`). `feed` returns the index (see `first_index`) of the first
    line it changed, so a view redraws only from there; lines before it are final.
    """

    def __init__(self, max_lines: int = 10_000, max_line_chars: int = 20_000) -> None:
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self._lines: list[Line] = [Line()]
        self.first_index = 0
        """Absolute index of `lines[0]`: how many lines were dropped off the top."""
        self.style = PLAIN
        self._col = 0
        self._pending = ""  # an escape sequence cut off at the end of the last feed
        self._styles: dict[Style, Style] = {PLAIN: PLAIN}  # one object per style: spans share it, `is` compares
        self._sgr_cache: dict[tuple[Style, str], Style] = {}

    # --- reading ---------------------------------------------------------------------------------------------

    @property
    def lines(self) -> list[Line]:
        """The lines, oldest first; the last one is the line being written, left out while it is empty."""
        last = self._lines[-1]
        return self._lines if last.length or last.clipped else self._lines[:-1]

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    # --- feeding ---------------------------------------------------------------------------------------------

    def feed_output(self, event: dict) -> int:
        text = event.get("text", "")
        return self.feed(text if event.get("truncated") else text + "\n")

    def feed(self, text: str) -> int:
        first = self.first_index + len(self._lines) - 1
        if self._pending:
            text = self._pending + text
            self._pending = ""
        pos, end = 0, len(text)
        search = _SPECIAL.search
        while pos < end:
            m = search(text, pos)
            stop = m.start() if m is not None else end
            if stop > pos:
                self._write(text[pos:stop])
            if m is None:
                break
            ch = text[stop]
            pos = stop + 1
            if ch == "\n":
                self._newline()
            elif ch == "\r":
                self._col = 0
            elif ch == "\x1b":
                pos = self._escape(text, pos)
            elif ch == "\b":
                if self._col:
                    self._col -= 1
            elif ch == "\t":
                self._col = min((self._col // TAB + 1) * TAB, self.max_line_chars)
            # Any other control character (BEL, SO/SI, NUL, C1) has nothing to show.
        self._trim()
        return max(first, self.first_index)

    def _newline(self) -> None:
        self._lines.append(Line())
        self._col = 0

    def _trim(self) -> None:
        # Drop in batches, so keeping the bound costs O(1) per line.
        excess = len(self._lines) - self.max_lines
        if excess > max(self.max_lines // 10, 1):
            del self._lines[:excess]
            self.first_index += excess

    # --- escape sequences ------------------------------------------------------------------------------------

    def _escape(self, text: str, pos: int) -> int:
        """Interpret the sequence after the ESC at pos - 1; return where the text goes on."""
        if pos >= len(text):
            self._pending = "\x1b"
            return pos
        kind = text[pos]
        if kind == "[":
            m = _CSI.match(text, pos)
            if m is None:
                return self._incomplete(text, pos, _CSI_PREFIX.match(text, pos) is not None)
            self._csi(m.group(1), m.group(2), m.group(3))
            return m.end()
        if kind in "]PX^_":  # OSC, DCS, SOS, PM, APC: a string up to BEL or ST
            m = _STRING_END.search(text, pos + 1)
            if m is None:
                return self._incomplete(text, pos, True)
            return m.end()
        m = _ESC_OTHER.match(text, pos)  # ESC 7, ESC =, ESC ( B, ...
        if m is None:
            return self._incomplete(text, pos, _ESC_OTHER_PREFIX.match(text, pos) is not None)
        return m.end()

    def _incomplete(self, text: str, pos: int, may_continue: bool) -> int:
        """A sequence not finished in this text: keep it for the next feed if it can still end well, else drop
        the ESC (what follows is shown as text, as a terminal does with a broken sequence)."""
        if may_continue and len(text) - pos < MAX_SEQUENCE:
            self._pending = "\x1b" + text[pos:]
            return len(text)
        return pos if not may_continue else len(text)

    def _csi(self, params: str, intermediates: str, final: str) -> None:
        private = params[:1] in ("<", "=", ">", "?")
        if intermediates or private:
            return  # modes, cursor shape, keyboard protocols: nothing to show
        if final == "m":
            self._sgr(params)
            return
        if final in "GCD`X" or final == "K":
            first = params.split(";")[0]
            if final == "K":
                self._erase_line(_number(first, 0))
            elif final in "G`":
                self._col = min(max(_number(first, 1), 1) - 1, self.max_line_chars)
            elif final == "C":
                self._col = min(self._col + max(_number(first, 1), 1), self.max_line_chars)
            elif final == "D":
                self._col = max(self._col - max(_number(first, 1), 1), 0)
            else:  # X: erase characters from the cursor on, the cursor stays
                count = max(_number(first, 1), 1)
                line = self._lines[-1]
                if self._col < line.length:
                    col = self._col
                    self._put(line, col, " " * min(count, line.length - col), self.style)
                    self._col = col
        # Anything else (cursor up/down/to a row, screen and scroll commands, reports) is dropped.

    def _erase_line(self, mode: int) -> None:
        line = self._lines[-1]
        col = self._col
        if mode == 0:
            self._cut(line, col)
        elif mode == 1:
            self._put(line, 0, " " * (col + 1), PLAIN)
            self._col = col
        elif mode == 2:
            line.spans, line.length, line.clipped = [], 0, False

    def _sgr(self, params: str) -> None:
        # Programs repeat the same few sequences: each (style, parameters) pair is worked out once.
        key = (self.style, params)
        cached = self._sgr_cache.get(key)
        if cached is None:
            if len(self._sgr_cache) >= MAX_CACHED_SGR:
                self._sgr_cache.clear()
            cached = self._sgr_cache[key] = self._apply_sgr(self.style, params)
        self.style = cached

    def _apply_sgr(self, style: Style, params: str) -> Style:
        fields = params.split(";") if params else [""]
        i = 0
        while i < len(fields):
            field = fields[i]
            i += 1
            if ":" in field:
                sub = field.split(":")
                code = _number(sub[0], -1)
                if code in (38, 48, 58):
                    color = _extended(sub[1:], colon=True)
                    if code != 58 and color is not False:
                        style = replace(style, **{"fg" if code == 38 else "bg": color})
                elif code == 4:
                    style = replace(style, underline=_number(sub[1], 1) != 0 if len(sub) > 1 else True)
                continue
            code = _number(field, 0 if field == "" else -1)
            if code == 0:
                style = PLAIN
            elif 30 <= code <= 37:
                style = replace(style, fg=code - 30)
            elif 40 <= code <= 47:
                style = replace(style, bg=code - 40)
            elif 90 <= code <= 97:
                style = replace(style, fg=code - 82)
            elif 100 <= code <= 107:
                style = replace(style, bg=code - 92)
            elif code in (38, 48, 58):
                # 38;5;N or 38;2;R;G;B: the colour's fields follow as further parameters.
                mode = _number(fields[i], -1) if i < len(fields) else -1
                take = 2 if mode == 5 else 4 if mode == 2 else 1
                color = _extended(fields[i:i + take], colon=False)
                i += take
                if code != 58 and color is not False:
                    style = replace(style, **{"fg" if code == 38 else "bg": color})
            elif code in _SGR_FLAGS:
                style = replace(style, **_SGR_FLAGS[code])
        if len(self._styles) >= MAX_CACHED_SGR:  # a rainbow of 24-bit colours must not grow this without end
            self._styles = {PLAIN: PLAIN}
        return self._styles.setdefault(style, style)

    # --- writing ---------------------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        line = self._lines[-1]
        col = self._col
        room = self.max_line_chars - col
        if len(text) > room:
            text = text[:max(room, 0)]
            line.clipped = True
            if not text:
                return
        self._put(line, col, text, self.style)

    def _put(self, line: Line, col: int, text: str, style: Style) -> None:
        """Write text at col (padding with spaces up to it), overwriting what is there; the cursor ends after it."""
        spans = line.spans
        if col == line.length:  # the usual case: at the end of the line
            if spans and spans[-1].style is style:
                spans[-1] = Span(spans[-1].text + text, style)
            else:
                spans.append(Span(text, style))
            line.length += len(text)
        elif col > line.length:
            pad = col - line.length
            if spans and spans[-1].style is PLAIN:
                spans[-1] = Span(spans[-1].text + " " * pad, PLAIN)
            else:
                spans.append(Span(" " * pad, PLAIN))
            line.length = col
            self._put(line, col, text, style)
            return
        else:
            stop = col + len(text)
            line.spans = _merge([*_slice(spans, 0, col), Span(text, style), *_slice(spans, stop, line.length)])
            line.length = max(line.length, stop)
        self._col = col + len(text)

    def _cut(self, line: Line, col: int) -> None:
        if col < line.length:
            line.spans = _slice(line.spans, 0, col)
            line.length = col
            line.clipped = False


_SGR_FLAGS: dict[int, dict[str, object]] = {
    1: {"bold": True}, 2: {"dim": True}, 3: {"italic": True}, 4: {"underline": True}, 7: {"inverse": True},
    9: {"strike": True}, 21: {"underline": True}, 22: {"bold": False, "dim": False}, 23: {"italic": False},
    24: {"underline": False}, 27: {"inverse": False}, 29: {"strike": False}, 39: {"fg": None}, 49: {"bg": None},
}


def _extended(fields: list[str], colon: bool) -> Color | bool:
    """The colour of an extended colour parameter (after 38/48): ["5", N] or ["2", (colour space,) R, G, B];
    False if it is malformed (the parameter is then ignored)."""
    if not fields:
        return False
    mode = _number(fields[0], -1)
    if mode == 5 and len(fields) >= 2:
        n = _number(fields[1], -1)
        return n if 0 <= n <= 255 else False
    if mode == 2:
        rgb = fields[1:]
        if colon and len(rgb) == 4:  # 38:2:<colour space>:R:G:B
            rgb = rgb[1:]
        if len(rgb) >= 3:
            values = [_number(v, -1) for v in rgb[:3]]
            if all(0 <= v <= 255 for v in values):
                return "#{:02x}{:02x}{:02x}".format(*values)
    return False


def _slice(spans: list[Span], start: int, stop: int) -> list[Span]:
    """The spans covering columns start..stop of a line."""
    out: list[Span] = []
    pos = 0
    for span in spans:
        end = pos + len(span.text)
        if end > start and pos < stop:
            out.append(Span(span.text[max(start - pos, 0):stop - pos], span.style))
        pos = end
        if pos >= stop:
            break
    return out


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if out and out[-1].style is span.style:
            out[-1] = Span(out[-1].text + span.text, span.style)
        else:
            out.append(span)
    return out


def has_terminal_codes(text: str) -> bool:
    """Whether a line needs interpreting: escape sequences or carriage returns. Plain lines (nearly all) do not,
    so they skip the interpreter and its cache."""
    return "\x1b" in text or "\r" in text


@functools.lru_cache(maxsize=1024)
def _interpreted(text: str) -> tuple[tuple[Line, ...], Style]:
    terminal = Terminal(max_lines=1_000, max_line_chars=len(text) + 1)
    terminal.feed(text)
    return tuple(terminal.lines) or (Line(),), terminal.style


@functools.lru_cache(maxsize=1024)
def interpret_line(text: str) -> tuple[Line, ...]:
    """One output row's text (a line, its parts joined) as a terminal shows it. Cached: a row is painted and
    measured many times, and a str keeps its hash, so a hit costs one lookup."""
    return _interpreted(text)[0]


def carried_sgr(text: str) -> str:
    """The SGR sequence that sets the style a terminal is left in after `text` (which may start with the
    sequence a previous row left): "" for the default style. What the next row starts in."""
    return sgr_of(_interpreted(text)[1])


_SGR_FLAG_CODES = (("bold", 1), ("dim", 2), ("italic", 3), ("underline", 4), ("inverse", 7), ("strike", 9))


def sgr_of(style: Style) -> str:
    """An SGR sequence that sets `style` from any state ("" for the default style)."""
    if style == PLAIN:
        return ""
    codes = ["0"] + [str(code) for name, code in _SGR_FLAG_CODES if getattr(style, name)]
    for color, base in ((style.fg, 38), (style.bg, 48)):
        if isinstance(color, int):
            codes.append(f"{base};5;{color}")
        elif isinstance(color, str):
            codes.append(f"{base};2;{int(color[1:3], 16)};{int(color[3:5], 16)};{int(color[5:7], 16)}")
    return "\x1b[" + ";".join(codes) + "m"


def shown_text(text: str) -> str:
    """What a row with this text shows (and Copy gives): the text without its escape codes, carriage-return
    redraws applied."""
    if not has_terminal_codes(text):
        return text
    return "\n".join(line.text for line in interpret_line(text))
