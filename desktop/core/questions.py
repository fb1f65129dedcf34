"""Questions an agent asks the user (Claude Code's AskUserQuestion), without Qt: reading them from the tool input,
a one-glance summary for the transcript, and the answers in the form the CLI reads (question -> answer, several
choices joined by ", ")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUESTION_TOOLS = frozenset({"AskUserQuestion"})


def is_question(tool_name: object) -> bool:
    return tool_name in QUESTION_TOOLS


@dataclass(frozen=True)
class Option:
    label: str
    description: str = ""


@dataclass(frozen=True)
class Question:
    text: str
    header: str
    options: tuple[Option, ...]
    multi: bool


def parse_questions(tool_input: Any) -> list[Question]:
    """The questions of an AskUserQuestion input; malformed entries are skipped, never raised on."""
    raw = tool_input.get("questions") if isinstance(tool_input, dict) else None
    out = []
    for q in raw if isinstance(raw, list) else []:
        if not isinstance(q, dict) or not isinstance(q.get("question"), str):
            continue
        options = tuple(
            Option(str(o.get("label")), str(o.get("description") or ""))
            for o in q.get("options") or [] if isinstance(o, dict) and o.get("label") is not None
        )
        out.append(Question(q["question"], str(q.get("header") or ""), options, bool(q.get("multiSelect"))))
    return out


def question_summary(tool_input: Any) -> str:
    lines = []
    for q in parse_questions(tool_input):
        choices = " / ".join(o.label for o in q.options)
        lines.append(f"{q.text}{'  (several)' if q.multi else ''}  [{choices}]" if choices else q.text)
    return "\n".join(lines) or "The agent has a question"


def answers_from(chosen: dict[str, list[str]], other: dict[str, str]) -> dict[str, str]:
    """question -> answer: the chosen labels (several joined by ", ", as the CLI expects for multi-select), with
    any "Other" text the user typed added as one more choice."""
    out = {}
    for text in dict.fromkeys([*chosen, *other]):
        parts = [*chosen.get(text, []), *([other[text].strip()] if other.get(text, "").strip() else [])]
        if parts:
            out[text] = ", ".join(parts)
    return out
