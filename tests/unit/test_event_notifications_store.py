"""Notifications stored as one row per event (storage/push.py, migration 015): listing per
user, counts per room and thread, redaction, and the move of old per-user rows."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import orjson

from homeserver.storage.database import Database
from homeserver.storage.push import EventNotifications, Notified, PushStore

ROOM, OTHER_ROOM = "!room:hs", "!other:hs"
ALICE, BOB, CAROL = "@alice:hs", "@bob:hs", "@carol:hs"
NOTIFY = ["notify"]
HIGHLIGHT = ["notify", {"set_tweak": "highlight"}]

# event_push_actions as migration 005 created it (dropped by 015).
_OLD_TABLE = """
CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL, room_id TEXT NOT NULL, stream_ordering INTEGER NOT NULL,
    event_id TEXT NOT NULL, sender TEXT NOT NULL, actions TEXT NOT NULL,
    highlight INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (user_id, stream_ordering)
);
"""


async def open_store(path: Path) -> tuple[Database, PushStore]:
    db = Database(path)
    await db.open()
    return db, PushStore(db)


async def add_members(db: Database, room_id: str, *users: str) -> None:
    await db.executemany(
        "test_members",
        "INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering)"
        " VALUES (?, ?, 'join', '$m', 1)",
        [(room_id, u) for u in users],
    )


def row(stream: int, groups: list[tuple[list[object], bool, list[str]]], thread: str = "main",
        room_id: str = ROOM, sender: str = ALICE) -> EventNotifications:
    return EventNotifications(room_id, stream, f"$e{stream}", sender, thread, 1000 + stream, groups)


async def test_listing_pages_newest_first_with_each_users_actions(tmp_path: Path) -> None:
    db, store = await open_store(tmp_path / "db.sqlite")
    try:
        await add_members(db, ROOM, BOB, CAROL)
        await add_members(db, OTHER_ROOM, BOB)
        await store.add_event_notifications([
            row(10, [(NOTIFY, False, [BOB, CAROL])]),
            row(11, [(HIGHLIGHT, True, [BOB]), (NOTIFY, False, [CAROL])]),
            row(12, [(NOTIFY, False, [CAROL])]),
            row(13, [(NOTIFY, False, [BOB])], room_id=OTHER_ROOM),
        ])
        first = await store.notifications(BOB, None, 2, only_highlight=False)
        assert [(a.stream_ordering, a.room_id, a.actions, a.highlight) for a in first] == [
            (13, OTHER_ROOM, NOTIFY, False), (11, ROOM, HIGHLIGHT, True),
        ]
        rest = await store.notifications(BOB, first[-1].stream_ordering, 2, only_highlight=False)
        assert [a.stream_ordering for a in rest] == [10]
        highlights = await store.notifications(BOB, None, 10, only_highlight=True)
        assert [a.stream_ordering for a in highlights] == [11]
        assert await store.notifications(CAROL, None, 10, only_highlight=True) == []
    finally:
        await db.close()


async def test_user_ids_that_prefix_each_other_are_told_apart(tmp_path: Path) -> None:
    db, store = await open_store(tmp_path / "db.sqlite")
    try:
        await add_members(db, ROOM, "@bo:hs", BOB)
        await store.add_event_notifications([row(5, [(NOTIFY, False, [BOB])])])
        assert await store.notifications("@bo:hs", None, 10, only_highlight=False) == []
        assert await store.notified_after("@bo:hs", ROOM, 0) == []
    finally:
        await db.close()


async def test_notified_after_carries_thread_and_highlight(tmp_path: Path) -> None:
    db, store = await open_store(tmp_path / "db.sqlite")
    try:
        await store.add_event_notifications([
            row(3, [(NOTIFY, False, [BOB])]),
            row(4, [(HIGHLIGHT, True, [BOB])], thread="$root"),
            row(6, [(NOTIFY, False, [CAROL])]),
        ])
        assert await store.notified_after(BOB, ROOM, 0) == [
            Notified(3, False, ALICE, "main"), Notified(4, True, ALICE, "$root"),
        ]
        assert await store.notified_after(BOB, ROOM, 3) == [Notified(4, True, ALICE, "$root")]
    finally:
        await db.close()


async def test_deleting_a_redacted_events_row_names_everyone_it_notified(tmp_path: Path) -> None:
    db, store = await open_store(tmp_path / "db.sqlite")
    try:
        await store.add_event_notifications([
            row(7, [(NOTIFY, False, [BOB]), (HIGHLIGHT, True, [CAROL])]), row(8, [(NOTIFY, False, [BOB])]),
        ])
        removed = await store.delete_notifications_for_events(["$e7"])
        assert sorted(removed) == [(BOB, ROOM, 7), (CAROL, ROOM, 7)]
        assert [n.stream_ordering for n in await store.notified_after(BOB, ROOM, 0)] == [8]
        assert await store.notified_after(CAROL, ROOM, 0) == []
    finally:
        await db.close()


async def test_migration_packs_old_per_user_rows_into_one_row_per_event(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db, _ = await open_store(path)
    await db.close()
    old_rows = [
        (BOB, ROOM, 20, "$a", ALICE, orjson.dumps(NOTIFY).decode(), 0, 500),
        (CAROL, ROOM, 20, "$a", ALICE, orjson.dumps(HIGHLIGHT).decode(), 1, 500),
        (BOB, ROOM, 21, "$reply", ALICE, orjson.dumps(NOTIFY).decode(), 0, 501),
    ]
    with closing(sqlite3.connect(path)) as conn, conn:  # the database as version 14 left it
        conn.executescript("DROP TABLE event_notifications; DELETE FROM schema_version WHERE version = 15;"
                           + _OLD_TABLE)
        conn.executemany("INSERT INTO event_push_actions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", old_rows)
        conn.execute(
            "INSERT INTO event_relations (event_id, relates_to_id, rel_type, room_id, sender, stream_ordering)"
            " VALUES ('$reply', '$a', 'm.thread', ?, ?, 21)",
            (ROOM, ALICE),
        )

    db, store = await open_store(path)  # applies 015 again, now over the old rows
    try:
        old_table = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'event_push_actions'"
        assert await db.fetchval("old_table", old_table) == 0
        assert await store.notified_after(BOB, ROOM, 0) == [
            Notified(20, False, ALICE, "main"), Notified(21, False, ALICE, "$a"),
        ]
        assert await store.notified_after(CAROL, ROOM, 0) == [Notified(20, True, ALICE, "main")]
        await add_members(db, ROOM, CAROL)
        listed = await store.notifications(CAROL, None, 10, only_highlight=True)
        assert [(a.event_id, a.actions, a.ts) for a in listed] == [("$a", HIGHLIGHT, 500)]
    finally:
        await db.close()


async def test_listing_merges_rooms_beyond_one_statement(tmp_path: Path) -> None:
    db, store = await open_store(tmp_path / "db.sqlite")
    try:
        rooms = [f"!r{i}:hs" for i in range(130)]  # more rooms than one compound statement takes
        for room_id in rooms:
            await add_members(db, room_id, BOB)
        await store.add_event_notifications(
            [row(100 + i, [(NOTIFY, False, [BOB])], room_id=room_id) for i, room_id in enumerate(rooms)]
        )
        first = await store.notifications(BOB, None, 3, only_highlight=False)
        assert [(a.stream_ordering, a.room_id) for a in first] == [(229, rooms[129]), (228, rooms[128]),
                                                                    (227, rooms[127])]
        second = await store.notifications(BOB, 227, 3, only_highlight=False)
        assert [a.stream_ordering for a in second] == [226, 225, 224]
    finally:
        await db.close()
