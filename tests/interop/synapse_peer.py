"""Run Synapse (PyPI `matrix-synapse`) as a federation peer on loopback.

Configured as shared/interop/SYNAPSE.md §10 describes: named `127.0.0.1:<port>`,
HTTPS federation on that port with a leaf from our test CA, plain-HTTP client
API on a second port, keys fetched from origins only, short retry intervals,
open registration with m.login.dummy.

Synapse lives in its own virtualenv (its dependencies are not ours): set
PARLEY_SYNAPSE_PYTHON to its interpreter, or create `.synapse-venv` at the
repository root (`.ci/run` does). Tests skip when neither is there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.interop.loopback_ca import LoopbackCA

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0


def synapse_python() -> str | None:
    """The interpreter that can import synapse, or None."""
    candidates = [os.environ.get("PARLEY_SYNAPSE_PYTHON"), str(REPO / ".synapse-venv" / "bin" / "python")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    try:
        import synapse  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _overrides(server_name: str, fed_port: int, client_port: int, leaf_crt: Path, leaf_key: Path,
               ca: Path) -> dict[str, Any]:
    fast = {"per_second": 9999, "burst_count": 9999}
    return {
        "server_name": server_name,
        "listeners": [
            {"port": fed_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": True,
             "resources": [{"names": ["federation"]}]},
            {"port": client_port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
             "resources": [{"names": ["client"]}]},
        ],
        "tls_certificate_path": str(leaf_crt),
        "tls_private_key_path": str(leaf_key),
        "federation_custom_ca_list": [str(ca)],
        "federation_verify_certificates": True,
        "federation_ip_range_blacklist": [],
        "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
        "trusted_key_servers": [],
        "federation": {
            "destination_min_retry_interval": "2s", "destination_retry_multiplier": 1.5,
            "destination_max_retry_interval": "10s", "max_long_retries": 3,
            "max_long_retry_delay": "2s", "max_short_retries": 2, "max_short_retry_delay": "1s",
            "client_timeout": "30s",
        },
        "rc_federation": {"window_size": 1000, "sleep_limit": 10, "sleep_delay": 500,
                          "reject_limit": 99999, "concurrent": 3},
        "rc_message": fast, "rc_registration": fast,
        "rc_login": {"address": fast, "account": fast, "failed_attempts": fast},
        "rc_joins": {"local": fast, "remote": fast},
        "rc_invites": {"per_room": fast, "per_user": fast, "per_issuer": fast},
        "rc_presence": {"per_user": fast}, "rc_joins_per_room": fast, "rc_key_requests": fast,
        "rc_profile": fast, "rc_room_creation": fast,
        "federation_rr_transactions_per_room_per_second": 9999,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "bcrypt_rounds": 4,
        "allow_device_name_lookup_over_federation": True,
        "caches": {"sync_response_cache_duration": 0},
        "room_list_publication_rules": [{"action": "allow"}],
        "allow_public_rooms_over_federation": True,
        "report_stats": False,
        "suppress_key_server_warning": True,
    }


class SynapsePeer:
    """One Synapse process. ``client_url`` serves the client API over plain HTTP."""

    def __init__(self, python: str, directory: Path, ca: LoopbackCA) -> None:
        self.python = python
        self.directory = directory
        self.ca = ca
        self.fed_port = free_port()
        self.client_port = free_port()
        self.server_name = f"127.0.0.1:{self.fed_port}"
        self.client_url = f"http://127.0.0.1:{self.client_port}"
        self.config_path = directory / "homeserver.yaml"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "synapse.out"

    def configure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [self.python, "-m", "synapse.app.homeserver", "--server-name", self.server_name,
             "--config-path", str(self.config_path), "--data-directory", str(self.directory),
             "--generate-config", "--report-stats=no"],
            cwd=self.directory, check=True, capture_output=True, timeout=120,
        )
        config = yaml.safe_load(self.config_path.read_text())
        leaf = self.ca.issue(f"synapse-{self.fed_port}")
        config.update(_overrides(self.server_name, self.fed_port, self.client_port,
                                 leaf.certificate, leaf.private_key, self.ca.certificate_path))
        self.config_path.write_text(yaml.safe_dump(config))

    async def start(self) -> None:
        self.configure()
        log = self.log_path.open("ab")
        # Popen returns at once (no waiting on the child), so it does not block the loop.
        self.process = subprocess.Popen(  # noqa: ASYNC220
            [self.python, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)],
            cwd=self.directory, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Synapse exited with {self.process.returncode}: {self.tail()}")
                try:
                    async with session.get(self.client_url + "/_matrix/client/versions") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"Synapse did not start: {self.tail()}")
                await asyncio.sleep(0.2)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
