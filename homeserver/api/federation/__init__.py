"""Inbound Server-Server API routes (spec: server-server-api.md)."""
