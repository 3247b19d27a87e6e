"""Server keys: publishing, rotation, notary answers, fetching and verifying across servers.

spec: server-server-api.md, "Retrieving server keys".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from federation.crypto.signing import generate_signing_key, verify_json_signature
from federation.key_files import write_signing_key_file
from federation.keys import TrustedKeyServer, parse_key_response
from tests.federation.harness import FederatedHomeserver, federated_homeservers

DAY_MS = 24 * 3600 * 1000


async def _get(session: ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        return await resp.json()  # type: ignore[no-any-return]


async def _own_keys(server: FederatedHomeserver) -> dict[str, Any]:
    return await _get(server.session, server.base_url + "/_matrix/key/v2/server")


async def test_key_server_response_is_self_signed_and_names_server_with_port(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        response = await _own_keys(hs1)
        now = hs1.hs.clock.time_ms()
        assert response["server_name"] == hs1.server_name
        assert set(response["verify_keys"]) == {hs1.hs.signing_key.key_id}
        assert response["old_verify_keys"] == {}
        assert now + DAY_MS - 60_000 < response["valid_until_ts"] <= now + DAY_MS
        keys = parse_key_response(response, hs1.server_name, now)
        assert [k.key_bytes for k in keys] == [hs1.hs.signing_key.verify_key_bytes]


async def test_key_id_is_stable_across_restarts(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        before = await _own_keys(hs1)
        await hs1.restart()
        after = await _own_keys(hs1)
        assert set(after["verify_keys"]) == set(before["verify_keys"])
        assert after["old_verify_keys"] == {}


async def test_rotated_key_is_published_in_old_verify_keys(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        old = hs1.hs.signing_key
        await hs1.stop()
        new = generate_signing_key("rotated")
        write_signing_key_file(hs1.config.resolve(hs1.config.signing_key_path), new)
        await hs1.start()
        response = await _own_keys(hs1)
        assert set(response["verify_keys"]) == {new.key_id}
        assert response["old_verify_keys"][old.key_id]["key"] == old.verify_key_base64
        assert response["old_verify_keys"][old.key_id]["expired_ts"] <= hs1.hs.clock.time_ms()
        keys = {k.key_id: k for k in parse_key_response(response, hs1.server_name, 0)}
        assert keys[old.key_id].expired_ts is not None
        assert keys[new.key_id].expired_ts is None


async def test_notary_answers_for_a_second_server_signed_by_both(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        hs2_key = hs2.hs.signing_key
        async with hs1.session.post(
            hs1.base_url + "/_matrix/key/v2/query",
            json={"server_keys": {hs2.server_name: {hs2_key.key_id: {}}}},
        ) as resp:
            assert resp.status == 200, await resp.text()
            body = await resp.json()
        [answer] = body["server_keys"]
        assert answer["server_name"] == hs2.server_name
        verify_json_signature(answer, hs2.server_name, hs2_key.key_id, hs2_key.verify_key_bytes)
        hs1_key = hs1.hs.signing_key
        verify_json_signature(answer, hs1.server_name, hs1_key.key_id, hs1_key.verify_key_bytes)

        # The GET form answers from the notary's cache, even with hs2 gone.
        await hs2.stop()
        cached = await _get(hs1.session, hs1.base_url + f"/_matrix/key/v2/query/{hs2.server_name}")
        assert [a["verify_keys"] for a in cached["server_keys"]] == [answer["verify_keys"]]


async def test_notary_query_for_unreachable_unknown_server_is_empty(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        async with hs1.session.post(
            hs1.base_url + "/_matrix/key/v2/query", json={"server_keys": {"127.0.0.1:1": {}}}
        ) as resp:
            assert resp.status == 200
            assert await resp.json() == {"server_keys": []}


async def test_notary_query_with_bad_body_is_400(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 1) as (hs1,):
        for body in ({}, {"server_keys": []}, {"server_keys": {"a b": {}}},
                     {"server_keys": {"x.example": {"ed25519:a": {"minimum_valid_until_ts": "soon"}}}}):
            async with hs1.session.post(hs1.base_url + "/_matrix/key/v2/query", json=body) as resp:
                assert resp.status == 400, body
                assert (await resp.json())["errcode"] in {"M_BAD_JSON", "M_INVALID_PARAM"}


async def test_keyring_fetches_caches_and_survives_the_origin_going_away(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        hs2_key = hs2.hs.signing_key
        key = await hs1.hs.keyring.get_verify_key(hs2.server_name, hs2_key.key_id)
        assert key == hs2_key.verify_key_bytes
        await hs2.stop()
        await hs1.restart()  # the in-memory cache is gone; the database remembers
        key = await hs1.hs.keyring.get_verify_key(hs2.server_name, hs2_key.key_id)
        assert key == hs2_key.verify_key_bytes


async def test_concurrent_lookups_share_one_fetch(tmp_path: Path) -> None:
    import asyncio

    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        client = hs1.hs.federation_client
        real_get_json = client.get_json
        fetched: list[str] = []

        async def counting_get_json(destination: str, path: str, *args: Any, **kwargs: Any) -> Any:
            fetched.append(path)
            return await real_get_json(destination, path, *args, **kwargs)

        client.get_json = counting_get_json  # type: ignore[method-assign]
        key_id = hs2.hs.signing_key.key_id
        keys = await asyncio.gather(
            *(hs1.hs.keyring.get_verify_key(hs2.server_name, key_id) for _ in range(10))
        )
        assert len(set(keys)) == 1
        assert fetched == ["/_matrix/key/v2/server"]


async def test_keys_come_through_a_trusted_notary(tmp_path: Path) -> None:
    async with federated_homeservers(tmp_path, 3) as (notary, origin, verifier):
        origin_key = origin.hs.signing_key
        # The notary learns the origin's keys, then the origin goes away.
        await notary.hs.keyring.get_verify_key(origin.server_name, origin_key.key_id)
        await origin.stop()
        verifier.hs.keyring.trusted_key_servers = (TrustedKeyServer(notary.server_name),)
        key = await verifier.hs.keyring.get_verify_key(origin.server_name, origin_key.key_id)
        assert key == origin_key.verify_key_bytes


async def test_notary_answer_must_carry_a_pinned_notary_key(tmp_path: Path) -> None:
    import pytest

    from federation.keys import SignatureError

    async with federated_homeservers(tmp_path, 3) as (notary, origin, verifier):
        origin_key = origin.hs.signing_key
        await notary.hs.keyring.get_verify_key(origin.server_name, origin_key.key_id)
        await origin.stop()
        wrong_pin = generate_signing_key(notary.hs.signing_key.version)
        verifier.hs.keyring.trusted_key_servers = (
            TrustedKeyServer(notary.server_name, {wrong_pin.key_id: wrong_pin.verify_key_base64}),
        )
        with pytest.raises(SignatureError):
            await verifier.hs.keyring.get_verify_key(origin.server_name, origin_key.key_id)


async def test_unknown_key_ids_do_not_refetch_on_every_request(tmp_path: Path) -> None:
    import pytest

    from federation.keys import SignatureError

    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        client = hs1.hs.federation_client
        real_get_json = client.get_json
        fetched: list[str] = []

        async def counting_get_json(destination: str, path: str, *args: Any, **kwargs: Any) -> Any:
            fetched.append(path)
            return await real_get_json(destination, path, *args, **kwargs)

        client.get_json = counting_get_json  # type: ignore[method-assign]
        for _ in range(5):
            with pytest.raises(SignatureError, match="unknown key"):
                await hs1.hs.keyring.get_verify_key(hs2.server_name, "ed25519:bogus")
        assert fetched == ["/_matrix/key/v2/server"]
