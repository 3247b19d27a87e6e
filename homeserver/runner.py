"""Run a homeserver until SIGINT/SIGTERM, then shut down gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from homeserver.app import build_app
from homeserver.config import Config
from homeserver.server import Homeserver

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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hs.shutdown_requested = stop
    await stop.wait()
    logger.info("shutting down")
    await runner.cleanup()
