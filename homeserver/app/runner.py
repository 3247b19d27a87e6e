"""Run a homeserver until SIGINT/SIGTERM, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from homeserver.app.homeserver import Homeserver
from homeserver.app.web import build_app
from homeserver.config import Config

logger = logging.getLogger(__name__)


async def run_homeserver(config: Config) -> None:
    hs = Homeserver(config)
    app = build_app(hs)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, config.listen.host, config.listen.port, backlog=4096)
    await site.start()
    logger.info(
        "Parley %s listening on http://%s:%s", config.server_name, config.listen.host, config.listen.port
    )
    if config.web_client.enabled:
        logger.info("web client: open http://%s:%s/ in a browser", config.listen.host, config.listen.port)
    federation_listen = config.federation.listen
    if federation_listen is not None:
        # The same app over HTTPS on the federation port: other servers (Synapse's
        # federation client speaks only HTTPS, SYNAPSE.md §3) connect here.
        from federation.transport.tls import server_ssl_context

        certificate = config.resolve(federation_listen.tls_certificate_path)
        private_key = config.resolve(federation_listen.tls_private_key_path)
        try:
            ssl_context = server_ssl_context(str(certificate), str(private_key), config.federation.tls_min_version)
        except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
            await runner.cleanup()
            raise SystemExit(f"federation.listen: cannot load {certificate} / {private_key}: {e}") from None
        federation_site = web.TCPSite(
            runner, federation_listen.host, federation_listen.port, ssl_context=ssl_context, backlog=1024
        )
        await federation_site.start()
        logger.info(
            "Parley %s serving federation on https://%s:%s",
            config.server_name, federation_listen.host, federation_listen.port,
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hs.shutdown_requested = stop
    await stop.wait()
    logger.info("shutting down")
    await runner.cleanup()
