"""Outbound Server-Server HTTP: discovery, TLS, X-Matrix signing, the signed client."""
