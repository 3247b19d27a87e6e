"""appservice: registered application services, their auth, namespaces, queries and transactions.

The lower areas know nothing of application services; what they must ask or tell is
connected here as hooks and listeners.
"""

from __future__ import annotations

from pathlib import Path

from homeserver.app.container import Container
from homeserver.services.appservice.client import AppServiceClient
from homeserver.services.appservice.registry import AppServiceRegistry, load_registrations
from homeserver.services.appservice.transactions import AppServiceTransactions
from homeserver.storage.appservice_queue import AppServiceQueueStore


def wire(c: Container) -> None:
    cfg = c.config
    services = load_registrations(cfg.app_service_config_files, Path(cfg.data_dir), c.server_name)
    c.appservice_client = AppServiceClient(cfg.app_service_transactions.timeout_seconds)
    c.lifecycle.add("appservice_client", start=c.appservice_client.start, stop=c.appservice_client.stop)
    c.appservices = AppServiceRegistry(
        services,
        account_store=c.account_store,
        accounts=c.accounts,
        client=c.appservice_client,
        clock=c.clock,
        is_mine=c.is_mine,
    )
    c.appservice_transactions = AppServiceTransactions(
        services,
        AppServiceQueueStore(c.db),
        c.appservice_client,
        events=c.events,
        typing=c.typing,
        receipts=c.receipts,
        presence=c.presence,
        to_device=c.to_device,
        config=cfg.app_service_transactions,
    )
    c.appservice_transactions.register()
    c.lifecycle.add("appservice_senders", start=c.appservices.create_senders)
    c.lifecycle.add(
        "appservice_transactions", start=c.appservice_transactions.start, stop=c.appservice_transactions.stop
    )
    if not services:
        return
    c.auth.use_appservice_auth(c.appservices.requester_for_token)
    c.accounts.add_username_check(c.appservices.check_username)
    c.rooms.add_alias_check(c.appservices.check_alias)
    c.rooms.use_unknown_user_query(c.appservices.query_user)
    c.rooms.use_unknown_alias_query(c.appservices.query_alias)
    c.room_directory.use_unknown_alias_query(c.appservices.query_alias)
    c.profile.use_unknown_user_query(c.appservices.query_user)
