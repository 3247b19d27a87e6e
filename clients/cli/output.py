"""Human-readable or JSON output for `parley`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from clients.cli.literal import one_line, shown
from clients.sdk.rooms import Room


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    def emit(self, data: Any, human: str | Callable[[], str]) -> None:
        """Print `data` as one JSON document, or the human text.

        Human text quotes other people's words, so terminal controls in it are
        neutralised (JSON output escapes them by itself)."""
        if self.json_mode:
            sys.stdout.write(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
        else:
            text = human() if callable(human) else human
            if text:
                sys.stdout.write(shown(text) + "\n")
        sys.stdout.flush()

    def line(self, data: Any, human: str) -> None:
        """One record of a stream (JSON lines in --json mode)."""
        self.emit(data, human)


def format_time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000).strftime("%Y-%m-%d %H:%M")


def describe_message(content: dict[str, Any]) -> str:
    """One line for a message's content, as a person would read it."""
    msgtype = content.get("msgtype")
    body = str(content.get("body", ""))
    if msgtype in ("m.image", "m.file", "m.audio", "m.video"):
        kind = msgtype.split(".", 1)[1]
        file = content.get("file")
        if isinstance(file, dict):  # encrypted: `parley download ROOM EVENT` decrypts it
            return f"[{kind}, encrypted] {body} {file.get('url', '')}".rstrip()
        return f"[{kind}] {body} {content.get('url', '')}".rstrip()
    if msgtype == "m.notice":
        return f"[notice] {body}"
    return body


def format_message(event: dict[str, Any], room: Room | None) -> str:
    sender = str(event.get("sender", "?"))
    name = one_line(room.member_name(sender) if room is not None else sender)
    content = event.get("content") or {}
    when = format_time(int(event.get("origin_server_ts", 0)))
    if content.get("msgtype") == "m.emote":
        return f"{when} * {name} {content.get('body', '')}"
    relates = content.get("m.relates_to") or {}
    if relates.get("rel_type") == "m.replace" and isinstance(content.get("m.new_content"), dict):
        return f"{when} {name} (edited): {describe_message(content['m.new_content'])}"
    return f"{when} {name}: {describe_message(content)}"


def message_record(event: dict[str, Any], room_id: str) -> dict[str, Any]:
    return {
        "room_id": room_id,
        "event_id": event.get("event_id"),
        "sender": event.get("sender"),
        "origin_server_ts": event.get("origin_server_ts"),
        "type": event.get("type"),
        "content": event.get("content"),
    }
