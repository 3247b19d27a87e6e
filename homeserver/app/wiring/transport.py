"""The federation library's parts: the signed client, the key ring and the outbound queues."""

from __future__ import annotations

from federation.keys import KeyRing, TrustedKeyServer
from federation.sender import FederationSender
from federation.transport.client import FederationClient, TransportSettings
from homeserver.app.container import Container
from homeserver.config import FederationConfig
from homeserver.storage.federation_queue import FederationQueueStore
from homeserver.storage.server_keys import ServerKeyStore


def transport_settings(config: FederationConfig) -> TransportSettings:
    return TransportSettings(
        allow_plain_http=config.allow_plain_http,
        ca_bundle=config.ca_bundle,
        tls_min_version=config.tls_min_version,
    )


def trusted_key_servers(config: FederationConfig) -> list[TrustedKeyServer]:
    return [TrustedKeyServer(n.server_name, dict(n.verify_keys)) for n in config.trusted_key_servers]


def wire(c: Container) -> None:
    c.federation_client = FederationClient(c.server_name, c.signing_key, transport_settings(c.config.federation))
    c.lifecycle.add("federation_client", stop=c.federation_client.close)
    c.server_key_store = ServerKeyStore(c.db)
    c.keyring = KeyRing(
        c.server_key_store, c.federation_client, c.clock, c.server_name, c.signing_key,
        trusted_key_servers(c.config.federation),
    )
    c.lifecycle.add("keyring", start=c.keyring.load, stop=c.keyring.stop)
    c.federation_queue_store = FederationQueueStore(c.db)
    c.federation_sender = FederationSender(
        c.federation_queue_store,
        c.federation_client,
        event_store=c.event_store,
        rooms=c.events,
        clock=c.clock,
        server_name=c.server_name,
        is_mine=c.is_mine,
        enabled=c.config.federation.enabled,
    )
