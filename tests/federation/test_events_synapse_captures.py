"""Synapse's PDUs (SYNAPSE.md captures) pass our receive checks unchanged.

The captures are the wire truth: every untruncated PDU that Synapse 1.163.2 served
from /event, /state, /backfill and /get_missing_events must parse for room version
12 with a matching content hash; the event IDs we compute must be the ones Synapse
asked for; the create event's reference hash must name the room; and hs2's
signatures verify with hs2's published key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from federation.crypto.signing import decode_verify_key
from federation.rooms.builder import verify_event_signature
from federation.rooms.versions import ROOM_VERSION_12
from homeserver.core.pdu_checks import event_from_pdu

CAPTURES = Path("/work/shared/interop/captures")
HS2 = "127.0.0.1:8482"

pytestmark = pytest.mark.skipif(not CAPTURES.is_dir(), reason="interop captures not available")


def capture(name: str) -> dict[str, Any]:
    return json.loads((CAPTURES / f"{name}.json").read_text())


def served_pdus(name: str) -> list[dict[str, Any]]:
    body = capture(name)["response"]["body"]
    pdus = [p for key in ("pdus", "auth_chain", "events") for p in body.get(key, [])]
    return [p for p in pdus if isinstance(p, dict)]  # "... N more" markers are strings


@pytest.mark.parametrize("name", ["event", "state", "backfill", "get_missing_events"])
def test_synapse_pdus_parse_with_matching_content_hashes(name: str) -> None:
    pdus = served_pdus(name)
    assert pdus
    for pdu in pdus:
        event, hash_ok = event_from_pdu(pdu, ROOM_VERSION_12)
        assert hash_ok, f"content hash of {event.event_id} in {name}"
        assert event.content == pdu["content"]


def test_event_id_is_the_one_synapse_was_asked_for() -> None:
    exchange = capture("event")
    asked = unquote(exchange["request"]["path"].rsplit("/", 1)[1])
    [pdu] = exchange["response"]["body"]["pdus"]
    assert event_from_pdu(pdu, ROOM_VERSION_12)[0].event_id == asked


def test_backfill_answer_includes_the_starting_event() -> None:
    exchange = capture("backfill")
    query = parse_qs(urlsplit(exchange["request"]["path"]).query)
    ids = {event_from_pdu(p, ROOM_VERSION_12)[0].event_id for p in served_pdus("backfill")}
    assert query["v"][0] in ids


def test_create_event_reference_hash_names_the_room() -> None:
    for name in ("state", "backfill", "get_missing_events"):
        for pdu in served_pdus(name):
            if pdu.get("type") == "m.room.create":
                event = event_from_pdu(pdu, ROOM_VERSION_12)[0]
                room_id = unquote(urlsplit(capture(name)["request"]["path"]).path.split("/")[5])
                assert event.room_id == room_id
                return
    pytest.skip("no create event among the untruncated captures")


def test_hs2_signatures_verify_with_its_published_key() -> None:
    keys = capture("key_v2_server")["response"]["body"]["verify_keys"]
    checked = 0
    for name in ("event", "state", "backfill", "get_missing_events"):
        for pdu in served_pdus(name):
            for key_id, _sig in pdu["signatures"].get(HS2, {}).items():
                verify_event_signature(pdu, ROOM_VERSION_12, HS2, key_id, decode_verify_key(keys[key_id]["key"]))
                checked += 1
    assert checked > 0
