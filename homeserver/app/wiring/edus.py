"""Federation EDUs both ways and inbound /send, wired once the social and e2ee services exist."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.federation.edus import FederationEdus
from homeserver.services.federation.receiver import TransactionReceiver


def wire(c: Container) -> None:
    c.federation_edus = FederationEdus(
        c.federation_sender,
        c.federation_queue_store,
        events=c.events,
        account_store=c.account_store,
        typing=c.typing,
        receipts=c.receipts,
        presence=c.presence,
        to_device=c.to_device,
        device_lists=c.device_lists,
        device_keys=c.e2e_keys,
        clock=c.clock,
        server_name=c.server_name,
        is_mine=c.is_mine,
    )
    c.federation_edus.register()
    c.lifecycle.add("federation_edus", start=c.federation_edus.start, stop=c.federation_edus.stop)
    c.federation_receiver = TransactionReceiver(
        c.federation_queue_store,
        c.federation_edus,
        c.federation_events,
        sender=c.federation_sender,
        events=c.events,
        room_store=c.room_store,
        clock=c.clock,
        is_mine=c.is_mine,
    )
    c.lifecycle.add("federation_receiver", stop=c.federation_receiver.stop)
