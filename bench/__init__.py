"""Parley load tool: drives a Matrix homeserver over the raw Client-Server HTTP API.

Run ``python -m bench.load --help``; see ``bench/README.md``.
"""
