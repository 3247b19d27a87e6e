"""`parley` at a real terminal (a pseudo-terminal): what a person types at its prompts."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from pathlib import Path

from tests.conftest import RunningHomeserver
from tests.integration.test_cli import REPO, WAIT


async def run_at_terminal(args: list[str], answers: list[str], config_dir: Path) -> tuple[int, str]:
    """Run parley with a pty as its controlling terminal; answer each prompt in turn."""
    master, slave = pty.openpty()
    env = {**os.environ, "PARLEY_CONFIG_DIR": str(config_dir), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clients.cli.main", *args, cwd=REPO, env=env,
        stdin=slave, stdout=slave, stderr=slave, preexec_fn=lambda: os.login_tty(slave),
    )
    os.close(slave)
    loop = asyncio.get_running_loop()
    seen = b""

    async def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            try:
                chunk = await loop.run_in_executor(None, os.read, master, 4096)
            except OSError:  # EIO: the child closed the terminal
                raise AssertionError(f"no {marker!r} prompt; got {seen!r}") from None
            if not chunk:
                raise AssertionError(f"no {marker!r} prompt; got {seen!r}")
            seen += chunk

    try:
        async with asyncio.timeout(WAIT):
            for answer in answers:
                await read_until(b"assword")
                seen = seen.replace(b"assword", b"", 1)
                os.write(master, answer.encode() + b"\n")
            code = await proc.wait()
            while True:
                try:
                    chunk = await loop.run_in_executor(None, os.read, master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
    finally:
        os.close(master)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return code, seen.decode(errors="replace")


async def test_register_asks_twice_and_refuses_a_mismatch(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    args = ["--profile", "a", "register", "alice", "-H", homeserver.base_url]
    code, out = await run_at_terminal(args, ["first secret", "second secret"], tmp_path)
    assert code == 2, out
    assert "passwords do not match" in out
    code, out = await run_at_terminal(args, ["same secret", "same secret"], tmp_path)
    assert code == 0, out
    assert "Registered as @alice:" in out


async def test_login_asks_once(homeserver: RunningHomeserver, tmp_path: Path) -> None:
    await homeserver.register("bob", "bob's secret")
    code, out = await run_at_terminal(
        ["--profile", "b", "login", "bob", "-H", homeserver.base_url], ["bob's secret"], tmp_path)
    assert code == 0, out
    assert "Logged in as @bob:" in out
