"""rss: the server process's memory, threads and open file descriptors."""

from __future__ import annotations

import argparse

from bench.population import Target
from bench.process import hwm_mb, open_fds, rss_mb, threads
from bench.report import ScenarioResult


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # only the common options


async def run(args: argparse.Namespace, target: Target) -> ScenarioResult:
    del args
    result = ScenarioResult("rss", params={"server_pid": target.server_pid})
    if target.server_pid is None:
        result.note("pass --server-pid to read /proc/<pid>/status")
    result.add("rss_mb", rss_mb(target.server_pid), "MB", headline=True)
    result.add("peak_rss_mb", hwm_mb(target.server_pid), "MB")
    result.add("threads", threads(target.server_pid))
    result.add("open_fds", open_fds(target.server_pid))
    return result
