"""Images of tool results (runner/blobs.py): what storing one costs the runner's loop, how long its event takes to
commit, and what a view's catch-up carries, on a real journal file and a real blobs folder.

    python tests/benchmarks/bench_images.py [--smoke]

Baselines, measured in the same run on the same disk:
- loop time: writing the image durably on the loop (write, fsync, rename, fsync of the folder), what storing it
  without the journal's writer thread would block the loop for; ours is what the loop spends handing it over;
- commit latency: the same tool_result event without an image (text of the same size);
- catch-up bytes: the event with the image inline as base64, what every frame and every catch-up would carry.
"""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson

from runner.blobs import BlobStore, image_from_bytes
from runner.journal import Journal
from tests.benchmarks._harness import row

SIZE = 1024 * 1024
SMOKE_SIZE = 64 * 1024
N = 20
SMOKE_N = 3


def fake_png(size: int) -> bytes:
    """PNG bytes as far as the store is concerned (a real header), random after it: incompressible, like a photo."""
    header = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + (640).to_bytes(4, "big") + (480).to_bytes(4, "big")
    return header + os.urandom(size - len(header))


def durable_write(folder: str, name: str, data: bytes) -> None:
    path = os.path.join(folder, name)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(path + ".tmp", path)
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


async def run(size: int, n: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        committed: dict[int, float] = {}

        def on_commit(batches: dict[str, list[tuple[int, str]]]) -> None:
            now = time.perf_counter()
            for events in batches.values():
                for seq, _ in events:
                    committed[seq] = now

        journal = await Journal.open(os.path.join(tmp, "journal.sqlite3"), on_commit)
        store = BlobStore.open(os.path.join(tmp, "blobs"))
        baseline_dir = os.path.join(tmp, "baseline")
        os.makedirs(baseline_dir)
        loop_ours, loop_base, lat_img, lat_txt, ref_bytes, inline_bytes = [], [], [], [], [], []
        seq = 0
        try:
            for i in range(n):
                data = fake_png(size)
                # Ours: what the loop does for an image tool_result (check, hash, hand over, journal the reference).
                t0 = time.perf_counter()
                image, text = image_from_bytes(data)
                assert image is not None
                store.store(image, journal.before_commit)
                seq += 1
                payload = orjson.dumps({"seq": seq, "kind": "tool_result", "tool_id": f"t{i}", "output": text,
                                        "is_error": False, "images": [image.ref]}).decode()
                journal.append("s", seq, payload)
                t1 = time.perf_counter()
                loop_ours.append(t1 - t0)
                ref_bytes.append(len(payload))
                inline_bytes.append(len(orjson.dumps({"seq": seq, "kind": "tool_result", "tool_id": f"t{i}",
                                                      "output": base64.b64encode(data).decode(),
                                                      "is_error": False})))
                await journal.flush()
                lat_img.append(committed[seq] - t0)
                # Baseline commit: the same event with text of the image's size and no file.
                seq += 1
                t0 = time.perf_counter()
                journal.append("s", seq, orjson.dumps({"seq": seq, "kind": "tool_result", "tool_id": f"x{i}",
                                                       "output": "x" * size, "is_error": False}).decode())
                await journal.flush()
                lat_txt.append(committed[seq] - t0)
                # Baseline loop time: the durable write done on the loop itself.
                t0 = time.perf_counter()
                durable_write(baseline_dir, f"{i}.png", data)
                loop_base.append(time.perf_counter() - t0)
        finally:
            await journal.close()
        assert len(os.listdir(os.path.join(tmp, "blobs"))) == n
    ours, base = statistics.median(loop_ours), statistics.median(loop_base)
    li, lt = statistics.median(lat_img), statistics.median(lat_txt)
    rb, ib = statistics.median(ref_bytes), statistics.median(inline_bytes)
    kib = size // 1024
    return [
        row(f"loop time per {kib} KiB image (median of {n})", f"{ours * 1000:.2f} ms",
            "< 0.25 of the durable write", ours < 0.25 * base, f"{base * 1000:.2f} ms (durable write on the loop)",
            f"{ours / base:.2f}"),
        row(f"commit latency of its event (median of {n})", f"{li * 1000:.1f} ms", "< 200 ms",
            li < 0.2, f"{lt * 1000:.1f} ms (same event, text, no file)", f"{li / lt:.2f}"),
        row("catch-up bytes of the event", f"{rb:.0f} B", "< 0.01 of inline", rb < 0.01 * ib,
            f"{ib:.0f} B (image inline as base64)", f"{rb / ib:.5f}"),
    ]


def measure(smoke: bool = False) -> list[dict[str, Any]]:
    return asyncio.run(run(SMOKE_SIZE if smoke else SIZE, SMOKE_N if smoke else N))


if __name__ == "__main__":
    for r in measure("--smoke" in sys.argv):
        print(r)
