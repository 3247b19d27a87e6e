#!/usr/bin/env python3
"""Start three federating Parley homeservers on loopback; Ctrl-C stops them.

Each server is a real ``parleyd`` child process named ``127.0.0.1:<port>``
and federates with the others over plain HTTP, which Parley allows only
between loopback addresses and only with ``federation.allow_plain_http: true``.

    python3 scripts/federation_demo.py [--dir DIR] [--base-port PORT]

Data goes to DIR (default: a fresh temporary directory, removed on exit).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SERVERS = 3
READY_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def init_server(directory: Path, port: int) -> Path:
    config_path = directory / "homeserver.yaml"
    if not config_path.exists():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver.app.cli", "init", "--server-name", f"127.0.0.1:{port}",
            "--config", str(config_path), "--data-dir", str(directory / "data"), "--port", str(port),
            cwd=REPO,
        )
        if await proc.wait() != 0:
            raise SystemExit(f"parleyd init failed in {directory}")
        config = yaml.safe_load(config_path.read_text())
        config["federation"]["allow_plain_http"] = True
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


async def wait_ready(process: asyncio.subprocess.Process, url: str) -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(READY_TIMEOUT_S):
        while not await loop.run_in_executor(None, _health_ok, url):
            if process.returncode is not None:
                raise SystemExit(f"parleyd for {url} exited with {process.returncode}")
            await asyncio.sleep(0.1)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", help="keep data here (reused on the next run)")
    parser.add_argument("--base-port", type=int, help="first port (default: free ports)")
    args = parser.parse_args()

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="parley-federation-"))
    processes: list[asyncio.subprocess.Process] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        urls: list[str] = []
        for index in range(SERVERS):
            directory = root / f"hs{index + 1}"
            directory.mkdir(parents=True, exist_ok=True)
            existing = directory / "homeserver.yaml"
            if existing.exists():
                port = int(yaml.safe_load(existing.read_text())["listen"]["port"])
            else:
                port = args.base_port + index if args.base_port else free_port()
            config_path = await init_server(directory, port)
            log = (directory / "parleyd.log").open("ab")
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "homeserver.app.cli", "run", "--config", str(config_path),
                cwd=REPO, stdout=log, stderr=log,
            )
            processes.append(process)
            url = f"http://127.0.0.1:{port}"
            await wait_ready(process, url)
            urls.append(url)
        print(f"Three federating Parley homeservers are running (data in {root}):")
        for index, url in enumerate(urls, start=1):
            print(f"  hs{index}: server name {url.removeprefix('http://')}  client URL {url}")
        print("Register users on each with any Matrix client (or `parley`), then join rooms across them.")
        print("Press Ctrl-C to stop.")
        await stop.wait()
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)  # only the children we started, by PID
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
        print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
