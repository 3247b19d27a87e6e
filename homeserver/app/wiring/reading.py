"""reading: relations and threads, jump to date, full-text search, space hierarchies."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.reading.jump_to_date import JumpToDateService
from homeserver.services.reading.pagination import PaginationService
from homeserver.services.reading.relations import RelationsService
from homeserver.services.reading.search import SearchService
from homeserver.services.reading.spaces import SpaceHierarchyService
from homeserver.services.reading.threads import ThreadService
from homeserver.storage.event_timestamps import EventTimestampStore
from homeserver.storage.search import SearchStore
from homeserver.storage.threads import ThreadStore


def wire(c: Container) -> None:
    c.threads = ThreadService(ThreadStore(c.db), c.event_store, c.account_data)
    c.relations = RelationsService(c.event_store, c.events, c.threads)
    c.lifecycle.add("relations", start=c.relations.load)
    c.lifecycle.add("threads", start=c.threads.load)
    c.jump_to_date = JumpToDateService(
        EventTimestampStore(c.db), c.events, c.federation_events, c.federation_client, c.server_name
    )
    c.search = SearchService(
        SearchStore(c.db), c.event_store, c.events, c.history_visibility, c.relations, c.clock
    )
    # Index rows are written in the events' own persist transaction.
    c.event_store.add_write_hook(c.search.index)
    c.spaces = SpaceHierarchyService(
        c.events, c.federated_membership, c.federation_client, c.server_name, c.is_mine
    )
    c.events.add_persist_listener(c.relations.on_event_persisted)
    c.pagination = PaginationService(
        c.event_store, c.events, c.history_visibility, c.relations, c.threads, c.federation_events, c.clock
    )
