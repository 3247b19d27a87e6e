"""`parleyd` as a child process on a loopback port, restartable on the same data."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import yaml

WAIT_S = 30.0
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Parleyd:
    """`python -m homeserver.app.cli run` in a child process, restartable on the same data."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "homeserver.yaml"
        self.data = tmp / "data"
        self.log = tmp / "parleyd.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def init(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver.app.cli", "init", "--server-name", "localhost",
            "--config", str(self.config), "--data-dir", str(self.data), "--port", str(self.port),
            cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        config = yaml.safe_load(self.config.read_text())
        config["password_hashing"] = {"opslimit": 1, "memlimit_kib": 8}  # fast tests
        config["registration"].update({"rate_per_minute": 100000, "burst": 100000})
        self.config.write_text(yaml.safe_dump(config))

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeserver.app.cli", "run", "--config", str(self.config),
                cwd=REPO, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        # Ready means /health answers; the process exiting first is a failure.
        async with aiohttp.ClientSession() as session, asyncio.timeout(WAIT_S):
            while True:
                assert self.process.returncode is None, self.log.read_text()
                try:
                    async with session.get(self.base_url + "/health") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)  # by PID: only the child we started
            try:
                await asyncio.wait_for(self.process.wait(), WAIT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                raise AssertionError("parleyd did not exit on SIGTERM") from None
        return self.process.returncode  # type: ignore[return-value]
