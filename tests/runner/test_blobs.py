"""Images in tool results (runner/blobs.py): stored once in the data folder before the event that refers to them is
committed, fetched with `get_blob`, checked (real images only, bounded), removed with the last session that refers to
them. Through a real runner, the fake Claude CLI printing a Read of an image as the real CLI does, and a real
WebSocket."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from runner.blobs import MAX_IMAGE_BYTES, image_from_base64, sniff
from runner.runner import Runner
from tests.conftest import TOKEN
from tests.fakes.images import png
from tests.fakes.view_client import ViewClient
from tests.runner.agents.helpers import FAKE_PATHS

RED_PNG = png(64, 48, (255, 0, 0), left_rgb=(0, 0, 255))
RED_ID = hashlib.sha256(RED_PNG).hexdigest()


def of(client: ViewClient, sid: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in client.events.get(sid, []) if e["kind"] == kind]


async def image_turn(client: ViewClient, sid: str, turn: int) -> dict[str, Any]:
    """Send mode:image and wait for the turn's end; the turn's tool_result."""
    await client.request({"type": "send", "session": sid, "text": "mode:image", "client_msg_id": f"i{turn}"})
    await client.wait_for(lambda: len(of(client, sid, "turn_end")) >= turn)
    return of(client, sid, "tool_result")[turn - 1]


async def claude_session(client: ViewClient, workdir: str, agent: str = "claude") -> str:
    reply = await client.request({"type": "create", "agent": agent, "cwd": workdir})
    sid = reply["session"]["id"]
    await client.request({"type": "attach", "session": sid})
    return str(sid)


@pytest.fixture
def fake_clis(monkeypatch: pytest.MonkeyPatch) -> None:
    for var, path in FAKE_PATHS.items():
        monkeypatch.setenv(var, str(path))
    monkeypatch.delenv("FAKE_CLI_MODES", raising=False)


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    (tmp_path / "work").mkdir()
    return str(tmp_path / "work")


@pytest.fixture
def image_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "shot.png"
    path.write_bytes(RED_PNG)
    monkeypatch.setenv("FAKE_CLI_IMAGE", str(path))
    return path


async def test_an_image_is_stored_once_and_fetched_by_its_id(
    fake_clis: None, image_file: Path, client: ViewClient, data_dir: str, workdir: str
) -> None:
    sid = await claude_session(client, workdir)
    first = await image_turn(client, sid, 1)
    assert first["images"] == [{"blob": RED_ID, "media_type": "image/png", "bytes": len(RED_PNG),
                                "width": 64, "height": 48}]
    assert first["output"] == "[image: PNG 64x48, 1 KB]" and first["is_error"] is False
    assert of(client, sid, "turn_end")[0]["status"] == "success"

    second = await image_turn(client, sid, 2)  # the same image again: stored once
    assert second["images"] == first["images"]
    assert os.listdir(os.path.join(data_dir, "blobs")) == [f"{RED_ID}.png"]
    assert Path(data_dir, "blobs", f"{RED_ID}.png").read_bytes() == RED_PNG

    blob = await client.request({"type": "get_blob", "blob": RED_ID})
    assert blob["type"] == "blob" and blob["media_type"] == "image/png" and blob["bytes"] == len(RED_PNG)
    assert base64.b64decode(blob["data"]) == RED_PNG

    # The journal holds the reference, not the bytes.
    encoded = base64.b64encode(RED_PNG).decode()
    with sqlite3.connect(os.path.join(data_dir, "journal.sqlite3")) as db:
        payloads = [p for (p,) in db.execute("SELECT payload FROM events")]
    db.close()
    assert any(RED_ID in p for p in payloads) and not any(encoded[:200] in p for p in payloads)


@pytest.mark.parametrize(("agent", "text"), [("codex", "the page:\n"), ("opencode", "Image read successfully\n")])
async def test_images_of_other_agents_tool_results(
    agent: str, text: str, fake_clis: None, image_file: Path, client: ViewClient, data_dir: str, workdir: str
) -> None:
    """Codex: an MCP tool's image content block; OpenCode: a tool's image attachment (a data: URL)."""
    sid = await claude_session(client, workdir, agent)
    result = await image_turn(client, sid, 1)
    assert result["images"] == [{"blob": RED_ID, "media_type": "image/png", "bytes": len(RED_PNG),
                                 "width": 64, "height": 48}]
    assert result["output"] == text + "[image: PNG 64x48, 1 KB]"
    blob = await client.request({"type": "get_blob", "blob": RED_ID})
    assert base64.b64decode(blob["data"]) == RED_PNG


async def test_the_image_is_on_disk_before_its_event_is_committed(
    fake_clis: None, image_file: Path, client: ViewClient, data_dir: str, workdir: str
) -> None:
    sid = await claude_session(client, workdir)
    await client.request({"type": "send", "session": sid, "text": "hello", "client_msg_id": "h"})
    await client.wait_for(lambda: of(client, sid, "turn_end"))
    # A file where the blobs folder was: the blob's write fails (even for root) until the folder is back.
    blobs, aside = Path(data_dir, "blobs"), Path(data_dir, "blobs-aside")
    blobs.rename(aside)
    blobs.write_text("not a folder")
    # Not confirmed (`sent`) while the journal cannot commit: the reply is not waited for.
    await client.send_raw(json.dumps({"type": "send", "session": sid, "text": "mode:image", "client_msg_id": "i"}))
    await client.wait_for(lambda: any(p["type"] == "journal_error" and p["message"] for p in client.pushes))
    assert not of(client, sid, "tool_result")  # never committed while the image is not on disk
    assert not Path(aside, f"{RED_ID}.png").exists()
    blobs.unlink()
    aside.rename(blobs)
    await client.wait_for(lambda: len(of(client, sid, "turn_end")) == 2)  # the journal retried: nothing lost
    assert any(f.get("type") == "sent" and f.get("client_msg_id") == "i" for f in client.pushes)
    (result,) = of(client, sid, "tool_result")
    assert result["images"][0]["blob"] == RED_ID
    assert Path(data_dir, "blobs", f"{RED_ID}.png").read_bytes() == RED_PNG
    assert client.seqs(sid) == list(range(1, len(client.seqs(sid)) + 1))


@pytest.mark.parametrize("blob", ["../../etc/passwd", "..", "/etc/passwd", RED_ID.upper(), RED_ID[:63],
                                  RED_ID + ".png", f"../blobs/{RED_ID}", RED_ID[:-1] + "\u0663", ""])
async def test_get_blob_refuses_what_is_not_a_blob_id(
    blob: str, client: ViewClient, data_dir: str
) -> None:
    reply = await client.request({"type": "get_blob", "blob": blob})
    assert reply["type"] == "error" and reply["code"] == "bad_request", reply
    assert "64 lowercase hexadecimal digits" in reply["message"]


async def test_get_blob_of_an_unknown_or_malformed_request(client: ViewClient) -> None:
    missing = await client.request({"type": "get_blob", "blob": "0" * 64})
    assert missing["type"] == "error" and missing["code"] == "not_found" and "0" * 64 in missing["message"]
    for request in ({"type": "get_blob"}, {"type": "get_blob", "blob": 7}):
        reply = await client.request(request)
        assert reply["type"] == "error" and reply["code"] == "bad_request", reply


@pytest.mark.parametrize(
    ("content", "declared", "said"),
    [
        (b"#!/bin/sh\necho not an image\n", "image/png", "the data (declared image/png) is not a PNG, JPEG, GIF or "
                                                         "WebP image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_IMAGE_BYTES + 1), "image/png", "8.0 MB is over the 8.0 MB limit"),
    ],
    ids=["not-an-image", "oversize"],
)
async def test_what_is_not_a_keepable_image_is_said_and_the_turn_goes_on(
    content: bytes, declared: str, said: str, fake_clis: None, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, client: ViewClient, data_dir: str, workdir: str,
) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    monkeypatch.setenv("FAKE_CLI_IMAGE", str(path))
    monkeypatch.setenv("FAKE_CLI_IMAGE_TYPE", declared)
    sid = await claude_session(client, workdir)
    result = await image_turn(client, sid, 1)
    assert result["output"] == f"[image not shown: {said}]"
    assert "images" not in result
    assert os.listdir(os.path.join(data_dir, "blobs")) == []
    assert of(client, sid, "turn_end")[0]["status"] == "success"
    texts = [e["text"] for e in of(client, sid, "assistant")]
    assert "".join(texts).endswith("I see the image.")


async def test_deleting_sessions_removes_the_images_no_other_session_refers_to(
    fake_clis: None, image_file: Path, tmp_path: Path, client: ViewClient, data_dir: str, workdir: str
) -> None:
    first = await claude_session(client, workdir)
    second = await claude_session(client, workdir)
    await image_turn(client, first, 1)
    await image_turn(client, second, 1)
    other_png = png(8, 8, (0, 255, 0))
    image_file.write_bytes(other_png)
    await image_turn(client, first, 2)
    other_id = hashlib.sha256(other_png).hexdigest()
    blobs = Path(data_dir, "blobs")
    assert sorted(os.listdir(blobs)) == sorted([f"{RED_ID}.png", f"{other_id}.png"])

    assert (await client.request({"type": "delete", "session": first}))["type"] == "ok"
    assert os.listdir(blobs) == [f"{RED_ID}.png"]  # the second session still shows the red one
    assert (await client.request({"type": "get_blob", "blob": other_id}))["code"] == "not_found"
    assert (await client.request({"type": "get_blob", "blob": RED_ID}))["type"] == "blob"

    assert (await client.request({"type": "delete", "session": second}))["type"] == "ok"
    assert os.listdir(blobs) == []
    assert (await client.request({"type": "get_blob", "blob": RED_ID}))["code"] == "not_found"

    # Stored again after its removal: written again, not lost to the removal.
    third = await claude_session(client, workdir)
    result = await image_turn(client, third, 1)
    assert (await client.request({"type": "get_blob", "blob": result["images"][0]["blob"]}))["type"] == "blob"


async def test_a_starting_runner_removes_images_no_session_refers_to(
    fake_clis: None, image_file: Path, data_dir: str, workdir: str
) -> None:
    runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    try:
        client = await ViewClient.open(runner.url, TOKEN)
        sid = await claude_session(client, workdir)
        await image_turn(client, sid, 1)
        await client.close()
    finally:
        await runner.shutdown()
    blobs = Path(data_dir, "blobs")
    orphan = hashlib.sha256(b"left by a crash").hexdigest()
    shutil.copy(blobs / f"{RED_ID}.png", blobs / f"{orphan}.png")
    (blobs / f"{orphan}.png.tmp").write_bytes(b"half")
    runner = await Runner.start(data_dir, TOKEN, "127.0.0.1", 0)
    try:
        assert os.listdir(blobs) == [f"{RED_ID}.png"]
        client = await ViewClient.open(runner.url, TOKEN)
        blob = await client.request({"type": "get_blob", "blob": RED_ID})
        assert base64.b64decode(blob["data"]) == RED_PNG
        await client.close()
    finally:
        await runner.shutdown()


def test_the_type_and_size_come_from_the_bytes() -> None:
    jpeg = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            b"\xff\xc0\x00\x11\x08\x00\x30\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    assert sniff(jpeg) == ("image/jpeg", 64, 48)
    assert sniff(b"GIF89a\x40\x00\x30\x00" + b"\0" * 8) == ("image/gif", 64, 48)
    webp = b"RIFF\0\0\0\0WEBPVP8X" + b"\0" * 8 + (63).to_bytes(3, "little") + (47).to_bytes(3, "little")
    assert sniff(webp) == ("image/webp", 64, 48)
    assert sniff(RED_PNG) == ("image/png", 64, 48)
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    # What the agent declares does not matter: a PNG declared as JPEG is a PNG.
    image, text = image_from_base64(base64.b64encode(RED_PNG).decode(), "image/jpeg")
    assert image is not None and image.ref["media_type"] == "image/png" and text.startswith("[image: PNG")
    assert image_from_base64("not base64!!", "image/png") == (None, "[image not shown: its data is not valid base64]")
    assert image_from_base64(None) == (None, "[image not shown: no image data]")
