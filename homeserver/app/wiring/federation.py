"""federation (homeserver side): inbound PDUs into room graphs, membership across servers."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.federation.events import FederatedEventHandler
from homeserver.services.federation.history import FederatedHistory
from homeserver.services.federation.membership import FederatedMembershipService
from homeserver.services.federation.out_of_band import OutOfBandMembershipService
from homeserver.services.federation.resident_membership import ResidentMembershipService


def wire(c: Container) -> None:
    c.federation_events = FederatedEventHandler(c)
    c.out_of_band = OutOfBandMembershipService(c)
    c.lifecycle.add("out_of_band", start=c.out_of_band.load)
    c.resident_membership = ResidentMembershipService(c)
    c.federated_history = FederatedHistory(c)
    c.federated_membership = FederatedMembershipService(c)
    # The sender starts once the room graph it re-queues from is loaded.
    c.lifecycle.add("federation_sender", start=c.federation_sender.start, stop=c.federation_sender.stop)
