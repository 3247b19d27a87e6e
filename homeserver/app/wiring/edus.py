"""Federation EDUs both ways and inbound /send, wired once the social and e2ee services exist."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.federation.edus import FederationEdus
from homeserver.services.federation.receiver import TransactionReceiver


def wire(c: Container) -> None:
    c.federation_edus = FederationEdus(c, c.federation_sender)
    c.federation_edus.register()
    c.lifecycle.add("federation_edus", start=c.federation_edus.start, stop=c.federation_edus.stop)
    c.federation_receiver = TransactionReceiver(c, c.federation_queue_store, c.federation_edus)
    c.lifecycle.add("federation_receiver", stop=c.federation_receiver.stop)
