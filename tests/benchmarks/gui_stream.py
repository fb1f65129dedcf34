"""The event stream the GUI benchmarks feed: what a busy agent session sends, at a chosen rate.

Mixed as a real session is: assistant text streamed as many small deltas per message (the message grows while
it is shown; Markdown with emphasis, inline code and a fenced code block, so the rendering is measured), tool calls
with multi-line results and a file edit (shown as a diff), and bursts of command output lines. Events are handed to the
bridge the way the view core hands them over (a list per received frame), so the whole desktop path from the
bridge to the pixels runs; the runner and the socket are left out on purpose: at 10,000 events/s they would
take the GIL and the cores the GUI is being measured on.
"""

from __future__ import annotations

from typing import Any

WORDS = ("the runner keeps every event in its journal and the view follows the tail while the agent works "
         "through the files it was asked to change").split()


def stream_events(start: int, count: int) -> list[dict[str, Any]]:
    """Events seq start .. start+count-1 of an endless, deterministic session (cycles of 400 events)."""
    out: list[dict[str, Any]] = []
    for seq in range(start, start + count):
        cycle, k = divmod(seq - 1, 400)
        if k < 150:  # one assistant message streamed in 150 deltas of a few words, in Markdown
            words = [WORDS[(seq + i) % len(WORDS)] for i in range(5)]
            if k % 7 == 3:
                words[1] = f"**{words[1]}**"
            if k % 11 == 5:
                words[3] = f"`{words[3]}()`"
            text = " ".join(words) + (".\n\n" if k % 40 == 39 else " ")
            if k == 100:
                text = "\n\n```python\ndef build(target):\n    return compile(target, 'x', 'exec')\n```\n\n"
            out.append({"seq": seq, "kind": "assistant", "message_id": f"msg{cycle}", "text": text})
        elif k < 152:  # a file edit (a diff row) and its result
            tool = f"edit{cycle}"
            if k == 150:
                old = "\n".join(f"line {n} of module_{seq}" for n in range(20))
                out.append({"seq": seq, "kind": "tool_call", "tool_id": tool, "name": "Edit", "input": {
                    "file_path": f"src/module_{seq}.py", "old_string": old,
                    "new_string": old.replace("line 3 ", "changed line 3 ").replace("line 15", "line fifteen")}})
            else:
                out.append({"seq": seq, "kind": "tool_result", "tool_id": tool, "is_error": False,
                            "output": f"The file src/module_{seq - 1}.py has been updated successfully."})
        elif k < 160:  # tool calls, each with its result right after
            tool = f"tool{cycle}-{(k - 150) // 2}"
            if k % 2 == 0:
                out.append({"seq": seq, "kind": "tool_call", "tool_id": tool, "name": "Bash",
                            "input": {"command": f"grep -rn pattern src/module_{seq}.py",
                                      "description": "Search the sources"}})
            else:
                lines = "\n".join(f"src/module_{seq}.py:{n}: pattern found here" for n in range(12))
                out.append({"seq": seq, "kind": "tool_result", "tool_id": tool, "output": lines,
                            "is_error": False})
        else:  # command output lines
            out.append({"seq": seq, "kind": "output", "stream": "stderr" if k % 37 == 0 else "stdout",
                        "text": f"[{seq:>8}] building target {seq % 97} of 97: compiling module_{seq % 13}.c"})
    return out
