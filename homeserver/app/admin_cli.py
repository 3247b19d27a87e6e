"""`parleyd admin ...`: administer a running Parley homeserver over its admin API.

Authentication: ``parleyd admin create-admin NAME`` writes an admin user and an
access token straight into the database (it only inserts rows, so it works with
the server stopped or running) and saves the token to ``<data_dir>/admin_token``
with mode 0600, readable only by the operator who owns the data directory. Every
other subcommand reads that file (or ``--token`` / ``$PARLEY_ADMIN_TOKEN``) and
talks HTTP to the server named by ``--url`` (default: the config's listen address).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from homeserver.config import Config, load_config

TOKEN_FILE = "admin_token"
ADMIN_DEVICE_ID = "PARLEYD_ADMIN"
HTTP_TIMEOUT_S = 30.0
S1, S2, P1 = "/_synapse/admin/v1", "/_synapse/admin/v2", "/_parley/admin/v1"
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


class AdminCliError(Exception):
    """A failure to report in one line; the exit code is 1."""


def _q(part: str) -> str:
    return quote(part, safe="")


# --- the admin token -------------------------------------------------------------------------
def token_path(config: Config) -> Path:
    return Path(config.data_dir) / TOKEN_FILE


def write_token_file(path: Path, user_id: str, access_token: str) -> None:
    """Write the token readable by its owner only (0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        json.dump({"user_id": user_id, "access_token": access_token}, f)


async def create_admin(config: Config, localpart: str, password: str | None) -> tuple[str, str]:
    """Create (or promote) an admin user and issue it a token, writing the database directly."""
    from homeserver.clock import Clock
    from homeserver.services.accounts.auth import AuthService
    from homeserver.services.accounts.passwords import PasswordHasher
    from homeserver.storage.accounts import AccountStore
    from homeserver.storage.database import Database
    from schemas.identifiers import is_valid_localpart

    if not is_valid_localpart(localpart):
        raise AdminCliError(f"invalid user name {localpart!r}: use a-z, 0-9 and ._=-/+")
    user_id = f"@{localpart}:{config.server_name}"
    db = Database(config.resolve(config.database_path), readers=1)
    await db.open()
    try:
        store = AccountStore(db)
        clock = Clock()
        password_hash = None
        if password is not None:
            hashing = config.password_hashing
            password_hash = await PasswordHasher(hashing.opslimit, hashing.memlimit_kib * 1024).hash(password)
        existing = await store.get_user(user_id)
        if existing is None:
            await store.create_user(user_id, password_hash, clock.time_ms(), None, is_admin=True)
        else:
            if existing.deactivated:
                raise AdminCliError(f"{user_id} is deactivated")
            await store.set_admin(user_id, True)
            if password_hash is not None:
                await store.set_password_hash(user_id, password_hash)
        await store.upsert_device(user_id, ADMIN_DEVICE_ID, "parleyd admin", clock.time_ms(), None)
        token = await AuthService(store, clock).issue_token(user_id, ADMIN_DEVICE_ID)
    finally:
        await db.close()
    return user_id, token


# --- talking to the server ---------------------------------------------------------------------
class AdminClient:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
        })
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())
                detail = f"{err.get('errcode')}: {err.get('error')}"
            except ValueError:
                detail = e.reason
            raise AdminCliError(f"{method} {path} failed with HTTP {e.code} ({detail})") from None
        except (urllib.error.URLError, OSError) as e:
            raise AdminCliError(f"cannot reach {self.base_url}: {getattr(e, 'reason', e)}") from None
        return json.loads(raw) if raw else {}


def _server_url(config: Config) -> str:
    host = config.listen.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.listen.port}"


def _read_token(args: argparse.Namespace, config: Config) -> str:
    if args.token:
        return str(args.token)
    if os.environ.get("PARLEY_ADMIN_TOKEN"):
        return os.environ["PARLEY_ADMIN_TOKEN"]
    path = token_path(config)
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["access_token"])
    except FileNotFoundError:
        raise AdminCliError(f"no admin token: run `parleyd admin create-admin NAME` first ({path})") from None
    except (ValueError, KeyError, OSError) as e:
        raise AdminCliError(f"cannot read admin token {path}: {e}") from None


def _user_id(config: Config, user: str) -> str:
    return user if user.startswith("@") else f"@{user}:{config.server_name}"


def _room_id(client: AdminClient, room: str) -> str:
    if room.startswith("#"):
        return str(client.request("GET", f"/_matrix/client/v3/directory/room/{_q(room)}")["room_id"])
    return room


def parse_since(value: str, now_ms: int | None = None) -> int:
    """A time as ms since the epoch: digits (ms), an ISO date/time, or a duration ago (30m, 2h, 1d)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if value.isdigit():
        return int(value)
    relative = _RELATIVE.match(value)
    if relative:
        return now_ms - int(float(relative.group(1)) * _UNIT_MS[relative.group(2)])
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        raise AdminCliError(f"--since {value!r}: give ms since the epoch, an ISO time or e.g. 30m, 2h, 1d") from None


# --- subcommands -----------------------------------------------------------------------------------
# Each takes (client, config, args) and returns the JSON result plus its human rendering.
Result = tuple[Any, str]


def _users(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    params = {"limit": str(a.limit), "deactivated": "true" if a.deactivated else "false"}
    if a.name:
        params["name"] = a.name
    body = c.request("GET", f"{S2}/users", params=params)
    lines = [
        f"{u['name']}\t{'admin' if u['admin'] else '-'}\t{'deactivated' if u['deactivated'] else 'active'}"
        f"\t{u.get('presence', 'offline')}\t{u.get('displayname') or ''}"
        for u in body["users"]
    ]
    return body, "\n".join(lines + [f"({body['total']} users)"])


def _user_put(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.name)
    fields: dict[str, Any] = {}
    if a.password is not None:
        fields["password"] = a.password
    if a.displayname is not None:
        fields["displayname"] = a.displayname
    if a.admin is not None:
        fields["admin"] = a.admin
    if a.user_command == "add":
        try:
            c.request("GET", f"{S2}/users/{_q(user_id)}")
            raise AdminCliError(f"{user_id} exists already (use `user modify`)")
        except AdminCliError as e:
            if "HTTP 404" not in str(e):
                raise
    elif not fields:
        raise AdminCliError("nothing to change: give --password, --displayname, --admin or --no-admin")
    body = c.request("PUT", f"{S2}/users/{_q(user_id)}", fields)
    verb = "created" if a.user_command == "add" else "modified"
    return body, f"{verb} {body['name']} (admin: {str(body['admin']).lower()})"


def _rooms(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    params = {"limit": str(a.limit), "order_by": a.order_by}
    if a.search:
        params["search_term"] = a.search
    body = c.request("GET", f"{S1}/rooms", params=params)
    lines = [
        f"{r['room_id']}\t{r['joined_members']} members\t{r.get('canonical_alias') or '-'}\t{r.get('name') or ''}"
        for r in body["rooms"]
    ]
    return body, "\n".join(lines + [f"({body['total_rooms']} rooms)"])


def _messages(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    room_id = _room_id(c, a.room)
    params = {"since": str(parse_since(a.since)), "limit": str(a.limit)}
    body = c.request("GET", f"{P1}/rooms/{_q(room_id)}/messages", params=params)
    lines = []
    for e in body["chunk"]:
        when = datetime.fromtimestamp(e["origin_server_ts"] / 1000).isoformat(timespec="seconds")
        text = e["content"].get("body") if e["type"] == "m.room.message" else json.dumps(e["content"])
        lines.append(f"{when}\t{e['sender']}\t{e['type']}\t{text}")
    return body, "\n".join(lines) if lines else "(no messages)"


def _create_room(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    body: dict[str, Any] = {"name": a.name, "preset": "public_chat" if a.public else "private_chat"}
    if a.public:
        body["visibility"] = "public"
    if a.alias:
        body["room_alias_name"] = a.alias.lstrip("#").split(":", 1)[0]
    if a.topic:
        body["topic"] = a.topic
    if a.owner:
        body["creator"] = _user_id(cfg, a.owner)
    result = c.request("POST", f"{P1}/rooms", body)
    return result, f"created {result['room_id']} owned by {result['creator']}"


def _knocks(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    body = c.request("GET", f"{P1}/rooms/{_q(_room_id(c, a.room))}/knocks")
    lines = [f"{k['user_id']}\t{k.get('reason') or ''}" for k in body["knocks"]]
    return body, "\n".join(lines) if lines else "(no pending knocks)"


def _accept(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    body = c.request("POST", f"{P1}/rooms/{_q(_room_id(c, a.room))}/knocks/{_q(user_id)}/accept", {})
    return body, f"invited {user_id}"


def _kick(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    payload: dict[str, Any] = {"user_id": user_id, "minutes": a.minutes}
    if a.reason:
        payload["reason"] = a.reason
    body = c.request("POST", f"{P1}/rooms/{_q(_room_id(c, a.room))}/temporary_bans", payload)
    until = datetime.fromtimestamp(body["expires_ts"] / 1000).isoformat(timespec="seconds")
    return body, f"kicked {user_id} until {until}"


def _unkick(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    body = c.request("DELETE", f"{P1}/rooms/{_q(_room_id(c, a.room))}/temporary_bans/{_q(user_id)}")
    return body, f"lifted the kick of {user_id}"


def _ban(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    payload: dict[str, Any] = {"user_id": user_id}
    if getattr(a, "reason", None):
        payload["reason"] = a.reason
    action = "ban" if a.admin_command == "ban" else "unban"
    body = c.request("POST", f"{P1}/rooms/{_q(_room_id(c, a.room))}/{action}", payload)
    return body, f"{action}ned {user_id}"


def _ipban(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    payload: dict[str, Any] = {"address": a.address}
    if a.reason:
        payload["reason"] = a.reason
    body = c.request("POST", f"{P1}/ip_bans", payload)
    return body, f"banned {body['address']}"


def _ipunban(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    body = c.request("DELETE", f"{P1}/ip_bans/{_q(a.address)}")
    return body, f"unbanned {a.address}"


def _ipbans(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    body = c.request("GET", f"{P1}/ip_bans")
    lines = [f"{b['address']}\t{b.get('reason') or ''}" for b in body["ip_bans"]]
    return body, "\n".join(lines) if lines else "(no IP bans)"


def _kill(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    body = c.request("POST", f"{S1}/deactivate/{_q(user_id)}", {})
    return body, f"deactivated {user_id}: logged out everywhere, left every room"


def _reactivate(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    """Undo `kill`: the account logs in again with a new password (the old one was wiped)."""
    user_id = _user_id(cfg, a.user)
    # PUT would create a missing user: check first that there is one to bring back.
    if not c.request("GET", f"{S2}/users/{_q(user_id)}")["deactivated"]:
        raise AdminCliError(f"{user_id} is not deactivated")
    password = a.password
    if password is None:
        password = sys.stdin.readline().rstrip("\r\n") if not sys.stdin.isatty() else getpass.getpass(
            f"New password for {user_id}: ")
    if not password:
        raise AdminCliError("a new password is needed to reactivate a user (--password or stdin)")
    body = c.request("PUT", f"{S2}/users/{_q(user_id)}", {"deactivated": False, "password": password})
    return body, f"reactivated {user_id}: they can log in with the new password (rooms are not rejoined)"


def _notice(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    user_id = _user_id(cfg, a.user)
    body = c.request("POST", f"{S1}/send_server_notice",
                     {"user_id": user_id, "content": {"msgtype": "m.text", "body": a.text}})
    return body, f"sent {body['event_id']} to {user_id}"


def _delete_room(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    """DELETE /_synapse/admin/v1/rooms/{roomId}: answers once the room is shut down (and purged)."""
    room_id = _room_id(c, a.room)
    payload: dict[str, Any] = {"block": a.block, "purge": not a.keep_history, "force_purge": a.force}
    if a.message:
        payload["message"] = a.message
    if a.new_room_owner:
        payload["new_room_user_id"] = _user_id(cfg, a.new_room_owner)
    if a.room_name:
        payload["room_name"] = a.room_name
    body = c.request("DELETE", f"{S1}/rooms/{_q(room_id)}", payload)
    lines = [f"{'shut down' if a.keep_history else 'deleted'} {room_id}: "
             f"{len(body['kicked_users'])} local users removed"]
    if body["failed_to_kick_users"]:
        lines.append("could not remove: " + ", ".join(body["failed_to_kick_users"]))
    if body.get("new_room_id"):
        lines.append(f"moved to {body['new_room_id']}")
    return body, "\n".join(lines)


def _shutdown(c: AdminClient, cfg: Config, a: argparse.Namespace) -> Result:
    body = c.request("POST", f"{P1}/shutdown", {})
    return body, "server is shutting down"


def _run_admin(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        if args.admin_command == "create-admin":
            user_id, token = asyncio.run(create_admin(config, args.name, args.password))
            path = token_path(config)
            write_token_file(path, user_id, token)
            print(f"{user_id} is an admin; its access token is in {path} (mode 0600)")
            return 0
        client = AdminClient(args.url or _server_url(config), _read_token(args, config))
        result, text = args.admin_func(client, config, args)
    except AdminCliError as e:
        print(f"parleyd admin: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else text)
    return 0


def add_admin_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
        # Accepted before or after the subcommand; the subcommand's copy only overrides when given.
        def default(value: Any) -> Any:
            return argparse.SUPPRESS if suppress else value

        parser.add_argument("--config", default=default("data/homeserver.yaml"))
        parser.add_argument("--url", default=default(None),
                            help="server base URL (default: the config's listen address)")
        parser.add_argument("--token", default=default(None),
                            help="admin access token (default: $PARLEY_ADMIN_TOKEN, then data_dir/admin_token)")
        parser.add_argument("--json", action="store_true", default=default(False),
                            help="print the server's JSON answer")

    common = argparse.ArgumentParser(add_help=False)
    common_options(common, suppress=True)
    admin = sub.add_parser("admin", help="administer a running server through its admin API")
    common_options(admin, suppress=False)
    admin.set_defaults(func=_run_admin)
    cmds = admin.add_subparsers(dest="admin_command", required=True)

    def cmd(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = cmds.add_parser(name, help=help_, parents=[common])
        p.set_defaults(admin_func=func)
        return p

    p = cmd("create-admin", None, "create or promote an admin user and save its token (writes the database)")
    p.add_argument("name")
    p.add_argument("--password", help="also let the admin log in with this password")
    p = cmd("users", _users, "list users")
    p.add_argument("--name", help="only users whose ID or display name contains this")
    p.add_argument("--deactivated", action="store_true", help="include deactivated users")
    p.add_argument("--limit", type=int, default=100)
    user = cmds.add_parser("user", help="add or modify a user")
    user_cmds = user.add_subparsers(dest="user_command", required=True)
    for name in ("add", "modify"):
        p = user_cmds.add_parser(name, parents=[common])
        p.set_defaults(admin_func=_user_put)
        p.add_argument("name", help="localpart or full user ID")
        p.add_argument("--password", required=name == "add")
        p.add_argument("--displayname")
        p.add_argument("--admin", dest="admin", action="store_true", default=None)
        p.add_argument("--no-admin", dest="admin", action="store_false")
    p = cmd("rooms", _rooms, "list rooms")
    p.add_argument("--search")
    p.add_argument("--order-by", default="name")
    p.add_argument("--limit", type=int, default=100)
    p = cmd("messages", _messages, "messages of a room since a time")
    p.add_argument("room", help="room ID or alias")
    p.add_argument("--since", required=True, help="ms since the epoch, ISO time, or 30m / 2h / 1d ago")
    p.add_argument("--limit", type=int, default=100)
    p = cmd("create-room", _create_room, "create a room owned by the system user (or --owner)")
    p.add_argument("name")
    p.add_argument("--alias", help="alias localpart, e.g. lobby for #lobby:server")
    p.add_argument("--topic")
    p.add_argument("--public", action="store_true")
    p.add_argument("--owner", help="local user who creates and owns the room")
    p = cmd("knocks", _knocks, "pending knocks on a room")
    p.add_argument("room")
    p = cmd("accept", _accept, "accept a knock (invite the knocker)")
    p.add_argument("room")
    p.add_argument("user")
    p = cmd("kick", _kick, "temporary kick: ban USER from ROOM for N minutes")
    p.add_argument("user")
    p.add_argument("room")
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--reason")
    p = cmd("unkick", _unkick, "lift a temporary kick now")
    p.add_argument("user")
    p.add_argument("room")
    p = cmd("ban", _ban, "ban USER from ROOM")
    p.add_argument("user")
    p.add_argument("room")
    p.add_argument("--reason")
    p = cmd("unban", _ban, "unban USER from ROOM")
    p.add_argument("user")
    p.add_argument("room")
    p = cmd("ipban", _ipban, "refuse every request from an IP address")
    p.add_argument("address")
    p.add_argument("--reason")
    p = cmd("ipunban", _ipunban, "lift an IP ban")
    p.add_argument("address")
    cmd("ipbans", _ipbans, "list IP bans")
    p = cmd("kill", _kill, "deactivate a user: log out everywhere, leave all rooms, block login")
    p.add_argument("user")
    p = cmd("reactivate", _reactivate, "undo kill: reactivate a deactivated user with a new password")
    p.add_argument("user")
    p.add_argument("--password", help="the new password (default: read from stdin or asked)")
    p = cmd("notice", _notice, "send a server notice to a user")
    p.add_argument("user")
    p.add_argument("text")
    p = cmd("delete-room", _delete_room, "remove local users from ROOM and purge its history (Synapse's Delete Room)")
    p.add_argument("room")
    p.add_argument("--block", action="store_true", help="refuse local joins and invites from now on")
    p.add_argument("--keep-history", action="store_true", help="only shut the room down, do not purge")
    p.add_argument("--force", action="store_true", help="purge even if local users could not be removed")
    p.add_argument("--message", help="leave reason, and the message posted in the new room")
    p.add_argument("--new-room-owner", help="local user who creates a new room the users are moved to")
    p.add_argument("--room-name", help="name of that new room")
    cmd("shutdown", _shutdown, "shut the server down gracefully")
