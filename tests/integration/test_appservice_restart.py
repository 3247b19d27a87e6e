"""Transactions to an application service survive a restart of a real `parleyd`.

spec: application-service-api.md, "Pushing events" — the homeserver retries a failed
transaction with the same txnId until the service answers 200, in order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.appservice_fake import AS_TOKEN, FakeAppService, write_registration
from tests.http_client import MatrixHttp, q
from tests.parleyd_process import Parleyd


@pytest.fixture
async def service() -> AsyncIterator[FakeAppService]:
    fake = FakeAppService()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def parleyd(tmp_path: Path, service: FakeAppService) -> AsyncIterator[Parleyd]:
    server = Parleyd(tmp_path)
    await server.init()
    config = yaml.safe_load(server.config.read_text())
    config["app_service_config_files"] = [str(write_registration(tmp_path / "bridge.yaml", service.url))]
    config["app_service_transactions"] = {"retry_initial_ms": 20, "retry_max_ms": 200}
    server.config.write_text(yaml.safe_dump(config))
    await server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            server.process.kill()
            await server.process.wait()


async def test_undelivered_transactions_survive_a_restart_in_order_with_the_same_txn_id(
    parleyd: Parleyd, service: FakeAppService
) -> None:
    async with aiohttp.ClientSession() as session:
        alice = MatrixHttp(session, parleyd.base_url)
        await alice.register("alice")
        bot = MatrixHttp(session, parleyd.base_url, AS_TOKEN)
        await bot.request("POST", "/_matrix/client/v3/register",
                          {"type": "m.login.application_service", "username": "_bridge_p"})
        room_id = await alice.create_room(preset="public_chat")
        await bot.request("POST", f"/_matrix/client/v3/join/{q(room_id)}", {},
                          params={"user_id": "@_bridge_p:localhost"})
        await service.wait_for(lambda e: e.get("state_key") == "@_bridge_p:localhost")

        service.failing = True  # the service is down: everything from here waits
        failed_from = len(service.attempts)
        sent = [await alice.send(room_id, f"while down {i}") for i in range(10)]
        await service.wait_until(lambda: len(service.attempts) > failed_from)
        first_failed = service.attempts[failed_from]

        assert await parleyd.stop() == 0, parleyd.log.read_text()[-2000:]
        await parleyd.start()
        await service.wait_until(lambda: len(service.attempts) > failed_from + 1)
        assert service.attempts[-1] == first_failed  # the same transaction after the restart
        service.failing = False
        sent.append(await alice.send(room_id, "after the restart"))

        await service.wait_for(lambda e: e.get("event_id") == sent[-1])
        received = [e["event_id"] for e in service.events(lambda e: e.get("event_id") in sent)]
        assert received == sent  # each once, in order
        assert first_failed in [txn_id for txn_id, _ in service.transactions]
