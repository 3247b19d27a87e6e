"""Sans-I/O request builders and response parsing of the SDK."""

from __future__ import annotations

import orjson
import pytest

from clients.sdk import api, responses
from clients.sdk.errors import MatrixRequestError
from clients.sdk.responses import Response


def test_path_parameters_are_percent_encoded() -> None:
    req = api.room_send("!room:example.org", "m.room.message", {"body": "x"}, "txn/1")
    assert req.method == "PUT"
    assert req.path == "/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/txn%2F1"
    assert req.json == {"body": "x"}


def test_login_uses_user_identifier() -> None:
    req = api.login_password("alice", "pw", device_name="laptop")
    assert req.requires_auth is False
    assert req.json == {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "pw",
        "initial_device_display_name": "laptop",
    }


def test_register_carries_auth_only_when_given() -> None:
    assert "auth" not in api.register("a", "b").json
    req = api.register("a", "b", auth={"type": "m.login.dummy", "session": "s"})
    assert req.json["auth"] == {"type": "m.login.dummy", "session": "s"}


def test_sync_query_and_timeout_slack() -> None:
    req = api.sync("s1", timeout_ms=30000, filter={"room": {"timeline": {"limit": 5}}}, set_presence="online")
    assert req.query == {
        "since": "s1", "timeout": "30000",
        "filter": '{"room":{"timeline":{"limit":5}}}', "set_presence": "online",
    }
    assert req.timeout is not None and req.timeout > 30
    assert "since" not in api.sync().query


def test_messages_backwards_from_token() -> None:
    req = api.room_messages("!r:hs", start="t5", limit=3)
    assert req.query == {"from": "t5", "dir": "b", "limit": "3"}


def test_membership_bodies() -> None:
    assert api.kick("!r:hs", "@b:hs", "spam").json == {"user_id": "@b:hs", "reason": "spam"}
    assert api.ban("!r:hs", "@b:hs").path.endswith("/ban")
    assert api.join("#a:hs", via=["hs"]).query == {"via": "hs", "server_name": "hs"}


def test_typing_sends_timeout_only_when_typing() -> None:
    assert api.typing("!r:hs", "@a:hs", True, 5000).json == {"typing": True, "timeout": 5000}
    assert api.typing("!r:hs", "@a:hs", False).json == {"typing": False}


def test_upload_sends_raw_bytes_with_content_type() -> None:
    req = api.upload(b"\x00\x01", "image/png", "a.png")
    assert (req.data, req.content_type, req.query) == (b"\x00\x01", "image/png", {"filename": "a.png"})
    assert req.path == "/_matrix/media/v3/upload"


def test_download_uses_authenticated_media_path() -> None:
    assert api.download("mxc://hs.example/abc123").path == "/_matrix/client/v1/media/download/hs.example/abc123"


@pytest.mark.parametrize("uri", ["http://x/y", "mxc://", "mxc://server", "mxc://server/a/b"])
def test_malformed_mxc_is_rejected(uri: str) -> None:
    with pytest.raises(ValueError):
        api.parse_mxc(uri)


def _resp(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status, headers or {}, orjson.dumps(body))


def test_error_response_becomes_matrix_request_error() -> None:
    err = responses.error_from(_resp(429, {"errcode": "M_LIMIT_EXCEEDED", "error": "slow", "retry_after_ms": 1500}))
    assert (err.status, err.errcode, err.message, err.retry_after_ms) == (429, "M_LIMIT_EXCEEDED", "slow", 1500)
    assert err.is_transient


def test_retry_after_header_is_used_without_body_field() -> None:
    err = responses.error_from(_resp(429, {"errcode": "M_LIMIT_EXCEEDED"}, {"retry-after": "3"}))
    assert err.retry_after_ms == 3000


def test_non_json_error_body() -> None:
    err = responses.error_from(Response(502, {}, b"<html>bad gateway</html>"))
    assert err.errcode == "HTTP_502" and err.is_transient


def test_json_body_raises_for_errors() -> None:
    with pytest.raises(MatrixRequestError) as e:
        responses.json_body(_resp(403, {"errcode": "M_FORBIDDEN", "error": "no"}))
    assert e.value.errcode == "M_FORBIDDEN" and not e.value.is_transient


def test_auth_challenge_picks_first_completable_stage() -> None:
    err = MatrixRequestError(401, "M_UNAUTHORIZED", "", body={
        "session": "abc",
        "flows": [{"stages": ["m.login.email.identity"]},
                  {"stages": ["m.login.registration_token", "m.login.dummy"]}],
        "params": {},
    })
    challenge = responses.parse_auth_challenge(err)
    assert challenge is not None and challenge.session == "abc"
    assert challenge.next_stage({"m.login.dummy"}) is None
    flow, stage = challenge.next_stage({"m.login.dummy", "m.login.registration_token"})  # type: ignore[misc]
    assert stage == "m.login.registration_token"


def test_auth_challenge_continues_after_completed_stages() -> None:
    err = MatrixRequestError(401, "M_UNAUTHORIZED", "", body={
        "session": "abc", "completed": ["m.login.registration_token"],
        "flows": [{"stages": ["m.login.registration_token", "m.login.dummy"]}],
    })
    challenge = responses.parse_auth_challenge(err)
    assert challenge is not None
    assert challenge.next_stage({"m.login.dummy", "m.login.registration_token"}) == (
        ["m.login.registration_token", "m.login.dummy"], "m.login.dummy")


def test_plain_401_is_not_a_challenge() -> None:
    err = MatrixRequestError(401, "M_UNKNOWN_TOKEN", "gone", body={"errcode": "M_UNKNOWN_TOKEN"})
    assert responses.parse_auth_challenge(err) is None


def test_session_parsing_requires_fields() -> None:
    assert responses.parse_session({"user_id": "@a:hs", "access_token": "t", "device_id": "D"}).device_id == "D"
    with pytest.raises(MatrixRequestError):
        responses.parse_session({"user_id": "@a:hs"})


def test_messages_page_without_end_means_exhausted() -> None:
    page = responses.parse_messages({"chunk": [{"type": "m.room.message"}], "start": "s"})
    assert page.end is None and len(page.chunk) == 1
