"""Command line of the Parley load tool: ``python -m bench.load SCENARIO [options]``.

Drives a Matrix homeserver over the raw Client-Server HTTP API. Only point it at
a server you run yourself on loopback (127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from urllib.parse import urlsplit

from bench.http import TRANSIENT_ERRORS
from bench.population import Target
from bench.process import cpu_seconds, own_cpu_seconds, raise_nofile_limit
from bench.report import ScenarioResult, print_result, print_summary_table, write_json
from bench.scenarios import (
    federation,
    initial_sync,
    latency,
    paginate,
    push,
    rss,
    suite,
    throughput,
    voice,
    wakeup,
)

log = logging.getLogger("bench")

SCENARIOS: dict[str, tuple[ModuleType, str]] = {
    "throughput": (throughput, "messages/s for PUT /send, sequential and concurrent"),
    "latency": (latency, "send-to-sync delivery delay with many long-polling syncers"),
    "wakeup": (wakeup, "time to wake N parked /sync long polls with one message"),
    "initial-sync": (initial_sync, "time of an initial /sync in R rooms of M messages"),
    "paginate": (paginate, "events/s walking a room's history with /messages"),
    "push": (push, "messages/s and server CPU per message into rooms of N local members"),
    "rss": (rss, "the server's resident memory (needs --server-pid)"),
    "voice": (voice, "voice channel: server CPU per participant, delivered audio, mouth-to-ear latency"),
    # These start their own two parleyd processes (--base-url is not used).
    "federation-send": (federation, "events/s and delay from server A to server B through /send"),
    "federation-join": (federation, "time for a user on B to join a big room held by A"),
}

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def add_common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Common options, accepted before or after the subcommand."""
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--base-url", default=default("http://127.0.0.1:8008"),
                        help="homeserver URL (loopback only; default http://127.0.0.1:8008)")
    parser.add_argument("--server-pid", type=int, default=default(None),
                        help="server PID, to read its RSS from /proc/<pid>/status")
    parser.add_argument("--registration-token", default=default(None),
                        help="token for the m.login.registration_token UIA stage")
    parser.add_argument("--setup-concurrency", type=int, default=default(10),
                        help="parallel requests while registering/joining/filling (default 10)")
    parser.add_argument("--json", nargs="?", const="-", default=default(None), metavar="FILE",
                        help="also write results as JSON to FILE, or stdout if no FILE "
                             "(the human summary then goes to stderr)")
    parser.add_argument("--verbose", "-v", action="count", default=default(0),
                        help="log progress (-vv for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Load tool for a Matrix homeserver over the raw Client-Server API.")
    add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    for name, (module, help_text) in SCENARIOS.items():
        scenario_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(scenario_parser)
        add_common(scenario_parser, suppress=True)
    all_parser = sub.add_parser("all", help="run every scenario with modest sizes, then a table")
    add_common(all_parser, suppress=True)
    return parser


def check_loopback(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK_HOSTS and not host.startswith("127."):
        raise SystemExit(f"refusing to load {host!r}: this tool only targets loopback servers")


def target_of(args: argparse.Namespace) -> Target:
    return Target(args.base_url, args.server_pid, args.registration_token,
                  max(args.setup_concurrency, 1))


async def run_one(args: argparse.Namespace) -> ScenarioResult:
    module, _help = SCENARIOS[args.scenario]
    runner: Callable[[argparse.Namespace, Target], Awaitable[ScenarioResult]] = module.run
    target = target_of(args)
    started = time.monotonic()
    client_cpu = own_cpu_seconds()
    server_cpu = cpu_seconds(target.server_pid)
    result = await runner(args, target)
    result.add("scenario_wall_s", round(time.monotonic() - started, 2), "s")
    # Client and server usually share the machine: a busy client skews the numbers.
    result.add("client_cpu_s", round(own_cpu_seconds() - client_cpu, 2), "s")
    server_cpu_after = cpu_seconds(target.server_pid)
    if server_cpu is not None and server_cpu_after is not None:
        result.add("server_cpu_s", round(server_cpu_after - server_cpu, 2), "s")
    return result


def common_argv(args: argparse.Namespace) -> list[str]:
    argv = ["--base-url", args.base_url, "--setup-concurrency", str(args.setup_concurrency)]
    if args.server_pid is not None:
        argv += ["--server-pid", str(args.server_pid)]
    if args.registration_token is not None:
        argv += ["--registration-token", args.registration_token]
    return argv


async def run_all(parser: argparse.ArgumentParser, args: argparse.Namespace,
                  emit: Callable[[ScenarioResult], None]) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    for name, extra in suite.MODEST_PLAN:
        step_args = parser.parse_args([name, *extra, *common_argv(args)])
        log.info("running %s %s", name, " ".join(extra))
        try:
            result = await run_one(step_args)
        except TRANSIENT_ERRORS + (KeyError, ValueError) as exc:
            result = ScenarioResult(name, params={"args": " ".join(extra)})
            result.note(f"failed: {type(exc).__name__}: {exc}")
            result.errors["scenario_failed"] = 1
            log.error("%s failed: %s", name, exc, exc_info=args.verbose > 0)
        emit(result)
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    check_loopback(args.base_url)
    raise_nofile_limit()
    human_out = sys.stderr if args.json == "-" else sys.stdout

    def emit(result: ScenarioResult) -> None:
        print_result(result, human_out)

    if args.scenario == "all":
        results = asyncio.run(run_all(parser, args, emit))
        print_summary_table(results, human_out)
    else:
        try:
            results = [asyncio.run(run_one(args))]
        except TRANSIENT_ERRORS + (KeyError, ValueError) as exc:
            log.error("%s failed: %s: %s", args.scenario, type(exc).__name__, exc,
                      exc_info=args.verbose > 0)
            return 2
        emit(results[0])
    if args.json is not None:
        write_json(results, args.json)
    return 1 if any("scenario_failed" in r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
