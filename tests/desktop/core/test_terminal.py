"""The terminal interpreter (desktop/core/terminal.py): styled spans from SGR, lines redrawn in place, sequences
it does not implement dropped whole, bounded memory, and parts of a line fed as the journal has them."""

from __future__ import annotations

import pytest

from desktop.core.terminal import PLAIN, Span, Style, Terminal, color_hex


def spans(term: Terminal, index: int = 0) -> list[tuple[str, Style]]:
    return [(s.text, s.style) for s in term.lines[index].spans]


def test_plain_lines() -> None:
    term = Terminal()
    term.feed("one\ntwo\n")
    assert term.texts() == ["one", "two"]
    assert spans(term, 1) == [("two", PLAIN)]


def test_sgr_16_colours_bold_and_reset() -> None:
    term = Terminal()
    term.feed("a\x1b[1;31mred\x1b[0m b\x1b[94;42mbright\x1b[39;49mx\n")
    assert spans(term) == [
        ("a", PLAIN),
        ("red", Style(fg=1, bold=True)),
        (" b", PLAIN),
        ("bright", Style(fg=12, bg=2)),
        ("x", PLAIN),
    ]
    assert term.texts() == ["ared bbrightx"]


def test_sgr_256_and_truecolor_in_both_notations() -> None:
    term = Terminal()
    term.feed("\x1b[38;5;208mo\x1b[48;5;17mb\x1b[0m\x1b[38;2;255;128;0mt\x1b[48:2::1:2:3mc\x1b[38:5:99mk\n")
    assert spans(term) == [
        ("o", Style(fg=208)),
        ("b", Style(fg=208, bg=17)),
        ("t", Style(fg="#ff8000")),
        ("c", Style(fg="#ff8000", bg="#010203")),
        ("k", Style(fg=99, bg="#010203")),
    ]
    assert color_hex(208) == "#ff8700" and color_hex(1) == "#cd0000" and color_hex(244) == "#808080"


def test_italic_underline_inverse_and_their_resets() -> None:
    term = Terminal()
    term.feed("\x1b[3;4;7mx\x1b[23my\x1b[24;27mz\x1b[4:3mw\x1b[4:0mv\n")
    assert spans(term) == [
        ("x", Style(italic=True, underline=True, inverse=True)),
        ("y", Style(underline=True, inverse=True)),
        ("z", PLAIN),
        ("w", Style(underline=True)),
        ("v", PLAIN),
    ]


def test_malformed_sgr_is_ignored_not_shown() -> None:
    term = Terminal()
    term.feed("\x1b[38;5;300ma\x1b[38;2;1;2mb\x1b[99999999999mc\x1b[;1md\n")
    assert term.texts() == ["abcd"]
    assert spans(term)[-1] == ("d", Style(bold=True))


def test_style_carries_over_to_the_next_line() -> None:
    term = Terminal()
    term.feed("\x1b[32mgreen\n")
    term.feed("still\x1b[m\n")
    assert spans(term, 1) == [("still", Style(fg=2))]


def test_carriage_return_progress_line_is_updated_in_place() -> None:
    term = Terminal()
    term.feed("start\n")
    changed = term.feed("[#   ] 10%")
    assert changed == 1 and term.texts() == ["start", "[#   ] 10%"]
    changed = term.feed("\r[##  ] 50%")
    assert changed == 1 and term.texts() == ["start", "[##  ] 50%"]
    term.feed("\r\x1b[K\x1b[32mdone\x1b[0m\n")
    assert term.texts() == ["start", "done"]
    assert spans(term, 1) == [("done", Style(fg=2))]


def test_overwriting_part_of_a_line_keeps_the_rest_and_its_styles() -> None:
    term = Terminal()
    term.feed("\x1b[31mabcdef\x1b[0m\rXY\n")
    assert spans(term) == [("XY", PLAIN), ("cdef", Style(fg=1))]


def test_backspace_tab_and_in_line_cursor_moves() -> None:
    term = Terminal()
    term.feed("abc\b\bX\n")
    term.feed("a\tb\n")
    term.feed("12345\x1b[3G_\x1b[2C!\x1b[3D?\n")
    term.feed("abcdef\r\x1b[2X\n")
    term.feed("\b\bok\n")
    assert term.texts() == ["aXc", "a       b", "12_?5!", "  cdef", "ok"]


def test_erase_to_start_and_whole_line() -> None:
    term = Terminal()
    term.feed("abcdef\x1b[3D\x1b[1Kx\n")  # erases columns 0-3, the cursor stays at 3
    term.feed("abcdef\x1b[2Kxy\n")  # erases the line, the cursor stays at 6
    assert term.texts() == ["   xef", "      xy"]


@pytest.mark.parametrize(
    "sequence",
    [
        "\x1b[2J",  # clear screen
        "\x1b[H", "\x1b[10;5H", "\x1b[3A", "\x1b[2B",  # cursor to a row, up, down
        "\x1b[?25l", "\x1b[?1049h", "\x1b[>4;1m",  # private modes
        "\x1b]0;window title\x07", "\x1b]8;;https://example.com\x1b\\",  # OSC with BEL and ST
        "\x1bP+q544e\x1b\\",  # DCS
        "\x1b7", "\x1b8", "\x1b(B", "\x1b=", "\x1bM",  # other escapes
        "\x07", "\x00", "\x0e", "\x9b",  # control characters
    ],
)
def test_sequences_it_does_not_implement_are_dropped_whole(sequence: str) -> None:
    term = Terminal()
    term.feed(f"be{sequence}fore\n")
    assert term.texts() == ["be" + "fore"]


def test_a_sequence_cut_between_feeds_is_completed_by_the_next() -> None:
    term = Terminal()
    for piece in ("a\x1b", "[3", "1mred\x1b]0;ti", "tle\x07", "!\n"):
        term.feed(piece)
    assert spans(term) == [("a", PLAIN), ("red!", Style(fg=1))]


def test_an_unterminated_string_sequence_is_bounded() -> None:
    term = Terminal()
    term.feed("x\x1b]0;" + "t" * 10_000)
    term.feed("\nvisible\n")
    # The runaway title is dropped as far as it got, and text after it is shown again.
    assert "visible" in term.texts()
    assert all("t" * 100 not in text for text in term.texts())


def test_output_events_and_their_parts() -> None:
    term = Terminal()
    term.feed_output({"kind": "output", "text": "Downloading 10%\r", "part": 0, "truncated": True})
    assert term.texts() == ["Downloading 10%"]
    term.feed_output({"kind": "output", "text": "Downloading 99%", "part": 1, "truncated": True})
    term.feed_output({"kind": "output", "text": "\rDownloaded     ", "part": 2})
    term.feed_output({"kind": "output", "text": "next"})
    assert term.texts() == ["Downloaded     ", "next"]


def test_catch_up_equals_live() -> None:
    """Rendering interprets the journal's text: the same events give the same lines, however they are grouped."""
    events = [
        {"text": "\x1b[1mhead", "truncated": True}, {"text": "er\x1b[0m"},
        {"text": "5%\r\x1b[2K50%", "truncated": True}, {"text": "\r100%"}, {"text": "\x1b[38;5;1mtail"},
    ]
    live, again = Terminal(), Terminal()
    for e in events:
        live.feed_output(e)
    again.feed("".join(e["text"] + ("" if e.get("truncated") else "\n") for e in events))
    assert [line.spans for line in live.lines] == [line.spans for line in again.lines]
    assert live.texts() == ["header", "100%", "tail"]


def test_memory_is_bounded_in_lines_and_columns() -> None:
    term = Terminal(max_lines=100, max_line_chars=50)
    for i in range(1000):
        term.feed(f"line {i}\n")
    assert len(term.lines) <= 110
    assert term.texts()[-1] == "line 999"
    assert term.first_index + len(term.lines) == 1000
    term.feed("x" * 10_000 + "\x1b[31m" + "y" * 100 + "\n")
    assert term.lines[-1].length == 50 and term.lines[-1].clipped
    term.feed("\t" * 1000 + "z\n")
    assert term.lines[-1].length <= 50


def test_many_distinct_colours_keep_memory_bounded() -> None:
    term = Terminal(max_lines=100)
    for i in range(20_000):
        term.feed(f"\x1b[38;2;{i % 256};{i // 256 % 256};7mx\x1b[48;5;{i % 256}my\n")
    assert len(term._styles) <= 1024 and len(term._sgr_cache) <= 1024
    assert spans(term, -1) == [("x", Style(fg="#1f4e07", bg=30)), ("y", Style(fg="#1f4e07", bg=31))]


def test_styles_are_shared_not_copied_per_span() -> None:
    term = Terminal()
    for _ in range(100):
        term.feed("\x1b[1;32mok\x1b[0m done\n")
    styles = {id(span.style) for line in term.lines for span in line.spans}
    assert len(styles) == 2


def test_span_equality_is_by_value() -> None:
    assert Span("a", Style(fg=1)) == Span("a", Style(fg=1))


# --- colours across lines (rows of a transcript) ----------------------------------------------------------------


def row_spans(rows: list) -> list[list[tuple[str, Style]]]:
    """Each output row's spans as the view interprets it: the SGR state it starts in, then its text."""
    from desktop.core.terminal import interpret_line

    out = []
    for row in rows:
        lines = interpret_line(row.data.get("sgr", "") + row.text)
        out.append([(s.text, s.style) for line in lines for s in line.spans])
    return out


def output(seq: int, text: str, stream: str = "stdout", **more: object) -> dict:
    return {"seq": seq, "kind": "output", "stream": stream, "text": text, **more}


def test_a_colour_lasts_across_lines_until_reset() -> None:
    from desktop.core.transcript import Transcript

    transcript = Transcript()
    transcript.apply([output(1, "\x1b[1;31mred starts"), output(2, "still red"), output(3, "err", "stderr"),
                      output(4, "also \x1b[0mreset here"), output(5, "plain"),
                      output(6, "\x1b[42mgreen bg from a part ", truncated=True, part=0),
                      output(7, "and its end", part=1), output(8, "next line \x1b[49m")])
    assert row_spans(list(transcript.rows)) == [
        [("red starts", Style(fg=1, bold=True))],
        [("still red", Style(fg=1, bold=True))],
        [("err", PLAIN)],  # stderr keeps its own state
        [("also ", Style(fg=1, bold=True)), ("reset here", PLAIN)],
        [("plain", PLAIN)],
        [("green bg from a part and its end", Style(bg=2))],
        [("next line ", Style(bg=2))],
    ]


@pytest.mark.parametrize("seed", range(4))
def test_colours_across_lines_match_a_terminal_at_any_catch_up_boundary(seed: int) -> None:
    """Random SGR over many lines, delivered in random batches (catch-ups): each row shows what one terminal fed
    the whole output shows on that line."""
    import random

    from desktop.core.transcript import Transcript

    rng = random.Random(seed)
    codes = ["0", "1", "2", "3", "4", "7", "9", "22", "31", "39", "44", "49", "38;5;200", "48;2;1;2;3", "93", "",
             "38:2::10:20:30", "1;32;45"]
    lines = []
    for _ in range(120):
        line = ""
        for _ in range(rng.randint(0, 3)):
            line += rng.choice(["x", "word ", "\x1b[" + rng.choice(codes) + "m"])
        lines.append(line)
    truth = Terminal()
    truth.feed("".join(line + "\n" for line in lines))
    expected = [[(s.text, s.style) for s in line.spans] for line in truth.lines]
    transcript = Transcript()
    events = [output(i + 1, line) for i, line in enumerate(lines)]
    while events:
        cut = rng.randint(1, 20)
        transcript.apply(events[:cut])
        events = events[cut:]
    assert [[s for s in spans if s[0]] for spans in row_spans(list(transcript.rows))] == expected


def test_sgr_of_a_style_sets_it_from_any_state() -> None:
    from desktop.core.terminal import sgr_of

    assert sgr_of(PLAIN) == ""  # a row in the default style needs no prefix
    styles = [Style(fg=1), Style(bg=200, bold=True, strike=True), Style(fg="#0a141e", bg=3, dim=True,
              italic=True, underline=True, inverse=True)]
    for style in styles:
        term = Terminal()
        term.feed("\x1b[1;4;33;44mbefore" + sgr_of(style) + "after")
        assert term.style == style and term.lines[0].spans[-1].style == style
