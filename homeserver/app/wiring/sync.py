"""sync: /sync and the sources that contribute to it."""

from __future__ import annotations

from homeserver.app.container import Container
from homeserver.services.sync.sync import SyncService


def wire(c: Container) -> None:
    c.sync = SyncService(c)
    for source in (c.account_data, c.receipts, c.notifications.unread_counts, c.typing, c.presence,
                   c.to_device, c.device_lists, c.push_settings):
        c.sync.add_source(source)
    # Events from users in m.ignored_user_list stay out of the ignorer's sync.
    c.sync.hidden_senders = c.account_data.ignored_users
    # Registered here on branch readinge2ee (its tests need it); the same line as the
    # "after merge:" one of branch top: keep one.
    c.e2e_keys.use_current_token(c.sync.current_token)
