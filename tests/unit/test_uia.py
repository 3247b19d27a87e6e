"""User-interactive auth sessions: flows, stage order, failures, binding, expiry.

spec: client-server-api/_index.md, "User-interactive API in the REST API".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from homeserver.clock import Clock
from homeserver.errors import MatrixError
from homeserver.services.accounts.uia import (
    SESSION_LIFETIME_MS,
    AuthRequired,
    StageFailed,
    UiaSession,
    UserInteractiveAuth,
)


class FakeClock(Clock):
    def __init__(self) -> None:
        self.now = 1_000_000

    def time_ms(self) -> int:
        return self.now


async def accept(auth: Mapping[str, Any], session: UiaSession) -> str | None:
    return None


async def secret(auth: Mapping[str, Any], session: UiaSession) -> str | None:
    if auth.get("secret") != "open sesame":
        raise StageFailed("M_FORBIDDEN", "wrong secret")
    return "@alice:test"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def uia(clock: FakeClock) -> UserInteractiveAuth:
    return UserInteractiveAuth(clock, {"a": accept, "b": accept, "secret": secret})


async def challenge(uia: UserInteractiveAuth, flows: list[list[str]], **kw: Any) -> dict[str, Any]:
    with pytest.raises(AuthRequired) as info:
        await uia.authenticate(action="op", flows=flows, auth=None, **kw)
    return info.value.to_json()


async def attempt(uia: UserInteractiveAuth, flows: list[list[str]], auth: dict[str, Any], **kw: Any) -> Any:
    return await uia.authenticate(action=kw.pop("action", "op"), flows=flows, auth=auth, **kw)


async def test_no_auth_gives_flows_and_session_without_errcode(uia: UserInteractiveAuth) -> None:
    body = await challenge(uia, [["a"]])
    assert body["flows"] == [{"stages": ["a"]}]
    assert body["params"] == {}
    assert body["session"]
    assert "errcode" not in body and "completed" not in body


async def test_single_stage_flow_completes(uia: UserInteractiveAuth) -> None:
    body = await challenge(uia, [["a"]])
    session = await attempt(uia, [["a"]], {"type": "a", "session": body["session"]})
    assert session.completed == ["a"]


async def test_stage_without_session_starts_one(uia: UserInteractiveAuth) -> None:
    session = await attempt(uia, [["a"]], {"type": "a"})
    assert session.completed == ["a"]


async def test_multi_stage_flow_reports_completed(uia: UserInteractiveAuth) -> None:
    flows = [["a", "b"]]
    body = await challenge(uia, flows)
    with pytest.raises(AuthRequired) as info:
        await attempt(uia, flows, {"type": "a", "session": body["session"]})
    assert info.value.to_json()["completed"] == ["a"]
    session = await attempt(uia, flows, {"type": "b", "session": body["session"]})
    assert session.completed == ["a", "b"]


async def test_stages_must_follow_flow_order(uia: UserInteractiveAuth) -> None:
    flows = [["a", "b"]]
    body = await challenge(uia, flows)
    with pytest.raises(AuthRequired) as info:
        await attempt(uia, flows, {"type": "b", "session": body["session"]})
    assert info.value.to_json()["errcode"] == "M_FORBIDDEN"


async def test_unoffered_stage_is_unrecognized(uia: UserInteractiveAuth) -> None:
    with pytest.raises(AuthRequired) as info:
        await attempt(uia, [["a"]], {"type": "secret"})
    assert info.value.to_json()["errcode"] == "M_UNRECOGNIZED"


async def test_failed_stage_keeps_session_and_can_be_retried(uia: UserInteractiveAuth) -> None:
    flows = [["secret"]]
    body = await challenge(uia, flows)
    with pytest.raises(AuthRequired) as info:
        await attempt(uia, flows, {"type": "secret", "secret": "nope", "session": body["session"]})
    failed = info.value.to_json()
    assert (failed["errcode"], failed["session"]) == ("M_FORBIDDEN", body["session"])
    session = await attempt(uia, flows, {"type": "secret", "secret": "open sesame", "session": body["session"]})
    assert session.user_id == "@alice:test"


async def test_session_is_bound_to_action(uia: UserInteractiveAuth) -> None:
    body = await challenge(uia, [["a"]])
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["a"]], {"type": "a", "session": body["session"]}, action="other")
    assert (info.value.status, info.value.errcode) == (403, "M_FORBIDDEN")


async def test_session_is_bound_to_requester(uia: UserInteractiveAuth) -> None:
    body = await challenge(uia, [["a"]], user_id="@alice:test")
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["a"]], {"type": "a", "session": body["session"]}, user_id="@bob:test")
    assert info.value.status == 403


async def test_stage_must_prove_the_requester(uia: UserInteractiveAuth) -> None:
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["secret"]], {"type": "secret", "secret": "open sesame"}, user_id="@bob:test")
    assert info.value.status == 403


async def test_unknown_and_expired_sessions_are_rejected(
    uia: UserInteractiveAuth, clock: FakeClock
) -> None:
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["a"]], {"type": "a", "session": "nope"})
    assert info.value.status == 400
    body = await challenge(uia, [["a"]])
    clock.now += SESSION_LIFETIME_MS + 1
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["a"]], {"type": "a", "session": body["session"]})
    assert info.value.status == 400


async def test_finished_session_cannot_be_reused(uia: UserInteractiveAuth) -> None:
    session = await attempt(uia, [["a"]], {"type": "a"})
    assert (await attempt(uia, [["a"]], {"session": session.session_id})).completed == ["a"]
    uia.finish(session)
    with pytest.raises(MatrixError) as info:
        await attempt(uia, [["a"]], {"session": session.session_id})
    assert info.value.status == 400


async def test_auth_with_only_session_reports_progress(uia: UserInteractiveAuth) -> None:
    body = await challenge(uia, [["a"]])
    with pytest.raises(AuthRequired) as info:
        await attempt(uia, [["a"]], {"session": body["session"]})
    assert "errcode" not in info.value.to_json()
