"""The homeserver's Lifecycle: ordered start, reverse stop, and unwinding a failed start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from homeserver.app.homeserver import Homeserver
from homeserver.app.lifecycle import Lifecycle
from tests.conftest import make_config


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def step(self, name: str, *, fail: bool = False):  # type: ignore[no-untyped-def]
        async def run() -> None:
            self.calls.append(name)
            if fail:
                raise RuntimeError(f"{name} failed")

        return run


async def test_components_start_in_order_and_stop_in_reverse() -> None:
    rec = Recorder()
    lifecycle = Lifecycle()
    for name in ("db", "cache", "queue"):
        lifecycle.add(name, start=rec.step(f"start {name}"), stop=rec.step(f"stop {name}"))
    lifecycle.add("notifier", stop=rec.step("stop notifier"))
    await lifecycle.start()
    await lifecycle.stop()
    assert rec.calls == ["start db", "start cache", "start queue",
                         "stop notifier", "stop queue", "stop cache", "stop db"]


async def test_a_failed_start_stops_only_what_had_started_then_raises() -> None:
    rec = Recorder()
    lifecycle = Lifecycle()
    lifecycle.add("db", start=rec.step("start db"), stop=rec.step("stop db"))
    lifecycle.add("cache", start=rec.step("start cache"), stop=rec.step("stop cache"))
    lifecycle.add("broken", start=rec.step("start broken", fail=True), stop=rec.step("stop broken"))
    lifecycle.add("later", start=rec.step("start later"), stop=rec.step("stop later"))
    with pytest.raises(RuntimeError, match="broken failed"):
        await lifecycle.start()
    assert rec.calls == ["start db", "start cache", "start broken", "stop cache", "stop db"]
    assert not lifecycle.started
    await lifecycle.stop()  # nothing left to stop
    assert rec.calls[-1] == "stop db"


async def test_one_failing_stop_does_not_keep_the_others_running() -> None:
    rec = Recorder()
    lifecycle = Lifecycle()
    lifecycle.add("db", start=rec.step("start db"), stop=rec.step("stop db"))
    lifecycle.add("flaky", stop=rec.step("stop flaky", fail=True))
    await lifecycle.start()
    await lifecycle.stop()
    assert rec.calls == ["start db", "stop flaky", "stop db"]


def test_no_component_can_join_after_start() -> None:
    lifecycle = Lifecycle()
    lifecycle._stack = object()  # type: ignore[assignment]  # as if started
    with pytest.raises(RuntimeError):
        lifecycle.add("late", start=lambda: None)


async def test_a_homeserver_whose_start_fails_leaves_no_task_or_connection(tmp_path: Path) -> None:
    before = asyncio.all_tasks()
    hs = Homeserver(make_config(tmp_path / "hs"))

    async def refuse() -> None:
        raise OSError("disk full")

    # Fails after every real component has started (database, queues, presence, media, ...).
    hs.lifecycle.add("refuses", start=refuse)
    with pytest.raises(OSError, match="disk full"):
        await hs.start()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}
    assert leaked == set(), sorted(t.get_name() for t in leaked)
    assert hs.db._writer is None  # the database was closed again
    await hs.stop()  # a no-op, not an error


async def test_a_stop_that_hangs_is_abandoned_and_the_others_still_stop(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from homeserver.app import lifecycle as module

    monkeypatch.setattr(module, "STOP_TIMEOUT_S", 0.05)
    stopped: list[str] = []
    life = module.Lifecycle()
    life.add("first", stop=lambda: stopped.append("first"))
    life.add("stuck", stop=lambda: asyncio.Event().wait())
    await life.start()
    await life.stop()
    assert stopped == ["first"]
    assert "stopping stuck took over" in caplog.text
