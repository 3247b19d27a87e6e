"""federation: the signed client, key ring, outbound queues and inbound PDUs/membership."""

from __future__ import annotations

from federation.keys import KeyRing
from federation.sender import FederationSender
from federation.transport.client import FederationClient
from homeserver.app.container import Container
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.resident_membership import ResidentMembershipService
from homeserver.storage.federation_queue import FederationQueueStore
from homeserver.storage.server_keys import ServerKeyStore


def wire(c: Container) -> None:
    c.federation_client = FederationClient(c.server_name, c.signing_key, c.config.federation)
    c.lifecycle.add("federation_client", stop=c.federation_client.close)
    c.server_key_store = ServerKeyStore(c.db)
    c.keyring = KeyRing(c)
    c.lifecycle.add("keyring", start=c.keyring.load, stop=c.keyring.stop)
    c.federation_events = FederatedEventHandler(c)
    c.out_of_band = OutOfBandMembershipService(c)
    c.lifecycle.add("out_of_band", start=c.out_of_band.load)
    c.resident_membership = ResidentMembershipService(c)
    c.federated_membership = FederatedMembershipService(c)
    c.federation_queue_store = FederationQueueStore(c.db)
    c.federation_sender = FederationSender(c, c.federation_queue_store)
    c.lifecycle.add("federation_sender", start=c.federation_sender.start, stop=c.federation_sender.stop)
