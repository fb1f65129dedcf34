#!/usr/bin/env python3
"""The baseline the runner is measured against: a minimal relay of an agent's output to one WebSocket client,
with the standard library's json, no journal, no durability, in its own process.

    python tests/benchmarks/relay.py        # prints "listening on ws://127.0.0.1:PORT"

A client sends one frame {"mode": "claude" | "command", "argv": [...], "text": "..."}; the relay starts the
process (for "claude" it writes `text` as a stream-json user message), reads its stdout a line at a time,
json.loads each line (claude), and forwards what a view needs as events shaped like the runner's
(`assistant` per text delta, `turn_end` on `result`; `output` per line and a final `status` for a command),
batched into one `events` frame per 10 ms.
"""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.server import ServerConnection, serve

FRAME_INTERVAL = 0.010


async def relay(ws: ServerConnection) -> None:
    request = json.loads(await ws.recv())
    proc = await asyncio.create_subprocess_exec(
        *request["argv"], stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024
    )
    assert proc.stdin is not None and proc.stdout is not None
    if request["mode"] == "claude":
        user = {"type": "user", "message": {"role": "user", "content": request["text"]}, "session_id": "default"}
        proc.stdin.write((json.dumps(user) + "\n").encode())
    else:
        proc.stdin.close()
    pending: list[dict] = []
    done = asyncio.Event()

    async def send_every_10ms() -> None:
        while True:
            finished = done.is_set()
            if pending:
                batch = pending[:]
                pending.clear()
                await ws.send(json.dumps({"type": "events", "session": "relay", "events": batch}))
            if finished:
                return
            await asyncio.sleep(FRAME_INTERVAL)

    sender = asyncio.create_task(send_every_10ms())
    seq = 0
    message_id = ""
    while True:
        line = await proc.stdout.readline()
        if not line:
            break
        if request["mode"] == "command":
            seq += 1
            text = line.decode("utf-8", errors="replace").rstrip("\n")
            pending.append(
                {"seq": seq, "ts": round(time.time(), 3), "kind": "output", "stream": "stdout", "text": text}
            )
            continue
        obj = json.loads(line)
        if obj.get("type") == "stream_event":
            event = obj["event"]
            if event["type"] == "message_start":
                message_id = event["message"]["id"]
            elif event["type"] == "content_block_delta" and event["delta"].get("type") == "text_delta":
                seq += 1
                pending.append({"seq": seq, "ts": round(time.time(), 3), "kind": "assistant",
                                "text": event["delta"]["text"], "message_id": message_id})
        elif obj.get("type") == "result":
            seq += 1
            pending.append({"seq": seq, "ts": round(time.time(), 3), "kind": "turn_end", "status": "success"})
            proc.stdin.close()
    code = await proc.wait()
    if request["mode"] == "command":
        pending.append({"seq": seq + 1, "ts": round(time.time(), 3), "kind": "status", "status": "exited",
                        "exit_code": code})
    done.set()
    await sender


async def main() -> None:
    async with serve(relay, "127.0.0.1", 0, compression=None, max_size=None) as server:
        print(f"listening on ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
