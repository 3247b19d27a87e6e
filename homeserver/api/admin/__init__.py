"""The admin API: ``/_synapse/admin/...`` (Synapse-shaped) and ``/_parley/admin/v1/...``.

Every endpoint needs an access token of a server admin (users.is_admin):
401 without a valid token, 403 M_FORBIDDEN for everyone else. See docs/admin.md.
"""
