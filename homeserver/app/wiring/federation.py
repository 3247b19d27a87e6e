"""federation (homeserver side): inbound PDUs into room graphs, membership across servers."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.federation.event_source import FederationEventSource
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.history import FederatedHistory
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.resident_membership import ResidentMembershipService
from homeserver.storage.out_of_band_memberships import OutOfBandMembershipStore


def wire(c: Container) -> None:
    c.out_of_band = OutOfBandMembershipService(
        OutOfBandMembershipStore(c.db), c.events, c.notifier, c.keyring, c.is_mine
    )
    c.federation_events = FederatedEventHandler(
        c.events, c.event_store, c.state_store, c.out_of_band,
        remote=FederationEventSource(c.federation_client),
        verify_signatures=c.keyring.verify_event_signatures,
        server_name=c.server_name,
    )
    c.lifecycle.add("out_of_band", start=c.out_of_band.load)
    c.federated_history = FederatedHistory(c.events, c.event_store, c.state_store)
    c.resident_membership = ResidentMembershipService(
        c.events, c.event_store, c.account_store, c.federation_events, c.out_of_band, c.keyring,
        c.federation_sender, c.clock, c.server_name, c.signing_key, c.is_mine, c.join_policy,
    )
    c.federated_membership = FederatedMembershipService(
        c.federation_client, c.events, c.federation_events, c.out_of_band, c.keyring, c.clock,
        c.server_name, c.signing_key, c.join_policy,
    )
    # The sender starts once the room graph it re-queues from is loaded.
    c.lifecycle.add("federation_sender", start=c.federation_sender.start, stop=c.federation_sender.stop)
