"""Sync cursors: a user's filter plus its since token, ready for long polling."""

from __future__ import annotations

from dataclasses import dataclass

from bench import api
from bench.api import Account
from bench.http import HomeserverClient
from bench.population import Target, bounded_gather


@dataclass
class SyncCursor:
    account: Account
    filter_param: str
    since: str


async def prepare_cursors(
    client: HomeserverClient, target: Target, accounts: list[Account], timeline_limit: int
) -> list[SyncCursor]:
    """Upload a filter per user and do one initial sync to get a since token."""
    filter_json = api.sync_filter(timeline_limit)

    async def prepare(account: Account) -> SyncCursor:
        filter_param = await api.upload_filter(client, account, filter_json)
        response = await api.sync(client, account, timeout_ms=0, filter_param=filter_param)
        return SyncCursor(account, filter_param, response.next_batch)

    return await bounded_gather(
        [lambda a=a: prepare(a) for a in accounts], target.setup_concurrency
    )
