"""`parleyd`: initialise, run and administer a Parley homeserver."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from homeserver.config import DEFAULT_CONFIG_TEMPLATE, ConfigError, load_config


def _init(args: argparse.Namespace) -> int:
    from federation.crypto.signing import generate_signing_key
    from federation.key_files import write_signing_key_file

    config_path = Path(args.config)
    data_dir = Path(args.data_dir)
    if config_path.exists() and not args.force:
        print(f"{config_path} exists already (use --force to overwrite)", file=sys.stderr)
        return 1
    config_path.parent.mkdir(parents=True, exist_ok=True)
    # data_dir is written relative to the config file's folder, so the pair can move.
    rel_data = os.path.relpath(data_dir.resolve(), config_path.parent.resolve())
    config_path.write_text(
        DEFAULT_CONFIG_TEMPLATE.format(
            server_name=args.server_name, data_dir=rel_data, host=args.host, port=args.port
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    key_path = config.resolve(config.signing_key_path)
    if not key_path.exists():
        write_signing_key_file(key_path, generate_signing_key())
    print(f"wrote {config_path} for {args.server_name}; signing key {key_path}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from homeserver.app.runner import run_homeserver

    config_path = Path(args.config)
    if not config_path.exists() and args.server_name:
        rc = _init(
            argparse.Namespace(
                config=str(config_path), data_dir=args.data_dir, server_name=args.server_name,
                host=args.host or "127.0.0.1", port=args.port or 8008, force=False,
            )
        )
        if rc:
            return rc
    config = load_config(config_path)
    if args.host:
        config.listen.host = args.host
    if args.port is not None:
        config.listen.port = args.port
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(run_homeserver(config))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="parleyd", description="Parley homeserver")
    sub = p.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="write a default config and signing key")
    init.add_argument("--server-name", required=True)
    init.add_argument("--config", default="data/homeserver.yaml")
    init.add_argument("--data-dir", default="data")
    init.add_argument("--host", default="127.0.0.1")
    init.add_argument("--port", type=int, default=8008)
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=_init)

    run = sub.add_parser("run", help="serve the homeserver")
    run.add_argument("--config", default="data/homeserver.yaml")
    run.add_argument(
        "--server-name",
        help="initialise a config for this name first if --config does not exist",
    )
    run.add_argument("--data-dir", default="data")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.set_defaults(func=_run)

    from homeserver.app.admin_cli import add_admin_parser

    add_admin_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"parleyd: config error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
