"""TLS contexts for federation (spec: server-server-api.md, "TLS").

A configured CA bundle *replaces* the system trust store, like Synapse's
``federation_custom_ca_list`` (SYNAPSE.md §3). Python's ssl module already
sends no SNI for IP literals and checks the IP SAN for them, as the spec asks.
"""

from __future__ import annotations

import ssl

_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def client_ssl_context(ca_bundle: str | None = None, min_version: str = "1.2") -> ssl.SSLContext:
    """Verify peers against ``ca_bundle`` if given, else the system trust store."""
    if ca_bundle:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_bundle)
    else:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = _TLS_VERSIONS[min_version]
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_ssl_context(
    certificate_path: str, private_key_path: str, min_version: str = "1.2"
) -> ssl.SSLContext:
    """The context of our HTTPS federation listener (no client certificates asked)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate_path, private_key_path)
    context.minimum_version = _TLS_VERSIONS[min_version]
    return context
