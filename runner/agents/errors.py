"""Agent failures a user can act on: not signed in / key refused, and rate limits or quotas.

The CLIs report these in their own words (an HTTP status inside an error message, an exit code, a stderr line).
`explain` recognizes them and says, in words, what happened and what to do; the agents journal that as an `error`
event with code `auth_required` or `rate_limited` (runner/EVENTS.md), next to the CLI's own output.
"""

from __future__ import annotations

import re

AUTH_REQUIRED = "auth_required"
RATE_LIMITED = "rate_limited"

# What the four CLIs print (seen with Claude Code 2.1.332, Codex 0.171.0, Gemini CLI 0.61.0, OpenCode 1.18.33
# against the scripted servers answering 401 or 429, and without a key).
_AUTH = re.compile(
    r"\b401\b|unauthori[sz]ed|unauthenticated|authentication[_ ](?:failed|error)|invalid[ _-]?(?:x-)?api[ _-]?key"
    r"|api key not valid|incorrect api key|not logged in|please run /login|must specify the \w+ environment variable"
    r"|set an auth method|missing api key|no api key",
    re.IGNORECASE,
)
_RATE = re.compile(
    r"\b429\b|rate[ _-]?limit|resource[ _]exhausted|resource has been exhausted|quota|too many requests"
    r"|usage limit",
    re.IGNORECASE,
)

_DETAIL_CHARS = 300


def classify(text: str) -> str | None:
    """AUTH_REQUIRED, RATE_LIMITED or None for an agent's error text."""
    if _AUTH.search(text):
        return AUTH_REQUIRED
    if _RATE.search(text):
        return RATE_LIMITED
    return None


def explain(label: str, code: str, login_hint: str, detail: str = "", retrying: bool = False) -> str:
    """The message for a classified failure: what happened, what to do, then the CLI's own words."""
    if code == AUTH_REQUIRED:
        text = f"{label} is not signed in, or its API key was refused. {login_hint}".strip()
    else:
        text = (
            f"{label} hit a rate limit or usage quota"
            + (", and is retrying" if retrying else "")
            + ". Wait a few minutes and send your message again; if it keeps happening, check your plan's limits"
            " or use another model."
        )
    detail = " ".join(detail.split())
    if detail:
        text += f"\n({label} said: {detail[:_DETAIL_CHARS]}{'...' if len(detail) > _DETAIL_CHARS else ''})"
    return text
