"""reading: relations and threads, jump to date, full-text search, space hierarchies."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.federation.history import FederatedHistory
from homeserver.services.reading.jump_to_date import JumpToDateService
from homeserver.services.reading.pagination import PaginationService
from homeserver.services.reading.relations import RelationsService
from homeserver.services.reading.search import SearchService
from homeserver.services.reading.spaces import SpaceHierarchyService
from homeserver.services.reading.threads import ThreadService
from homeserver.storage.search import SearchStore


def wire(c: Container) -> None:
    c.relations = RelationsService(c)
    c.lifecycle.add("relations", start=c.relations.load)
    c.threads = ThreadService(c)
    c.lifecycle.add("threads", start=c.threads.load)
    c.jump_to_date = JumpToDateService(c)
    c.search = SearchService(c, SearchStore(c.db))
    c.spaces = SpaceHierarchyService(c)

    # --- api engineer: reads the HTTP handlers used to make on stores ------------------
    c.pagination = PaginationService(
        c.event_store, c.events, c.history_visibility, c.relations, c.threads, c.federation_events, c.clock
    )
    # Stateless; belongs in wiring/federation.py (placed here to keep this branch's hunks apart).
    c.federated_history = FederatedHistory(c)
