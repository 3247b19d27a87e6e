"""Users' push rules and pushers: the client API's view, storage and m.push_rules in /sync.

spec: client-server-api/modules/push.md, "Push Rules: API", "Push Rules: Events"
and data/api/client-server/{pushrules,pusher}.yaml.

Every change to a user's rules stores their rules document and writes the whole
ruleset as the global account data item ``m.push_rules`` (a new ``account_data``
stream position), so the next incremental /sync carries it. Users who never changed
a rule have no stored item: this source adds their default ruleset to an initial
sync, as Synapse does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from homeserver.clock import Clock
from homeserver.core.push.bulk import CompiledRuleset, compile_ruleset, default_template
from homeserver.core.push.rules import PushRule
from homeserver.core.push.ruleset import UserPushRules, check_kind, parse_actions
from homeserver.core.sync_source import SyncContext, SyncContribution
from homeserver.errors import bad_json, invalid_param, missing_param
from homeserver.services.social.account_data import AccountDataService
from homeserver.storage.account_data import GLOBAL, AccountDataStore
from homeserver.storage.accounts import AccountStore
from homeserver.storage.push import Pusher, PushStore

logger = logging.getLogger(__name__)

PUSH_RULES = "m.push_rules"
PUSH_GATEWAY_PATH = "/_matrix/push/v1/notify"
_RULES_CACHE_LIMIT = 50_000
_PUSHER_KINDS = ("http", "email")


class PushSettingsService:
    stream = "account_data"  # m.push_rules travels in the account data section

    def __init__(
        self,
        store: PushStore,
        account_data: AccountDataService,
        account_data_store: AccountDataStore,
        account_store: AccountStore,
        clock: Clock,
    ) -> None:
        self.store = store
        self.account_data = account_data
        self.account_data_store = account_data_store
        self.account_store = account_store
        self.clock = clock
        self._customised: dict[str, UserPushRules] = {}
        self._ordered: dict[str, list[PushRule]] = {}
        self._compiled: dict[str, CompiledRuleset] = {}
        # Users who may have http pushers (a superset): the persist listener reads it.
        self.http_pusher_users: set[str] = set()

    async def load(self) -> None:
        for user_id, raw in (await self.store.all_user_rules()).items():
            rules = self._customised[user_id] = UserPushRules.from_json(raw)
            # The stored m.push_rules predates this start: if the server defaults changed
            # since, clients get the new ruleset with their next sync.
            current = {"global": rules.ruleset_json(user_id)}
            stored = await self.account_data_store.get(user_id, GLOBAL, PUSH_RULES)
            if stored != current:
                await self.account_data.put(user_id, None, PUSH_RULES, current)
        self.http_pusher_users = await self.store.users_with_pushers("http")

    # --- rules ---------------------------------------------------------------------------
    def _rules_of(self, user_id: str) -> UserPushRules:
        return self._customised.get(user_id) or UserPushRules()

    def rules_for(self, user_id: str) -> list[PushRule]:
        """The user's rules in evaluation order (cached; no I/O, for the persist listener)."""
        ordered = self._ordered.get(user_id)
        if ordered is None:
            if len(self._ordered) >= _RULES_CACHE_LIMIT:
                self._ordered.clear()
            ordered = self._ordered[user_id] = self._rules_of(user_id).ordered(user_id)
        return ordered

    def compiled_rules_for(self, user_id: str) -> CompiledRuleset:
        """The user's rules compiled for bulk evaluation; one shared object for all who kept the defaults."""
        if user_id not in self._customised:
            return default_template()
        compiled = self._compiled.get(user_id)
        if compiled is None:
            if len(self._compiled) >= _RULES_CACHE_LIMIT:
                self._compiled.clear()
            compiled = self._compiled[user_id] = compile_ruleset(self.rules_for(user_id), user_id)
        return compiled

    def ruleset(self, user_id: str) -> dict[str, Any]:
        return self._rules_of(user_id).ruleset_json(user_id)

    def get_rule(self, user_id: str, kind: str, rule_id: str) -> dict[str, Any]:
        return self._rules_of(user_id).find(user_id, kind, rule_id).to_json()

    async def _save(self, user_id: str, rules: UserPushRules) -> None:
        await self.store.put_user_rules(user_id, rules.to_json())
        self._customised[user_id] = rules
        self._ordered.pop(user_id, None)
        self._compiled.pop(user_id, None)
        await self.account_data.put(user_id, None, PUSH_RULES, {"global": rules.ruleset_json(user_id)})

    async def put_rule(self, user_id: str, kind: str, rule_id: str, body: Mapping[str, Any],
                       before: str | None, after: str | None) -> None:
        rules = self._rules_of(user_id).copy()
        rules.put(kind, rule_id, body, before, after)
        await self._save(user_id, rules)

    async def delete_rule(self, user_id: str, kind: str, rule_id: str) -> None:
        rules = self._rules_of(user_id).copy()
        rules.delete(user_id, kind, rule_id)
        await self._save(user_id, rules)

    async def set_enabled(self, user_id: str, kind: str, rule_id: str, body: Mapping[str, Any]) -> None:
        enabled = body.get("enabled")
        if enabled is None:
            raise missing_param("enabled is required")
        if not isinstance(enabled, bool):
            raise bad_json("enabled must be a boolean")
        rules = self._rules_of(user_id).copy()
        rules.set_enabled(user_id, kind, rule_id, enabled)
        await self._save(user_id, rules)

    async def set_actions(self, user_id: str, kind: str, rule_id: str, body: Mapping[str, Any]) -> None:
        if "actions" not in body:
            raise missing_param("actions is required")
        check_kind(kind)
        actions = parse_actions(body["actions"])
        rules = self._rules_of(user_id).copy()
        rules.set_actions(user_id, kind, rule_id, actions)
        await self._save(user_id, rules)

    async def copy_room_rules(self, old_room_id: str, new_room_id: str, user_ids: list[str]) -> None:
        """For a room upgrade: local users' rules about the old room also apply to the new one."""
        for user_id in user_ids:
            if user_id not in self._customised:
                continue
            rules = self._customised[user_id].copy()
            if rules.copy_room_rules(old_room_id, new_room_id):
                await self._save(user_id, rules)

    # --- sync ----------------------------------------------------------------------------
    def current_position(self) -> int:
        return self.account_data.current_position()

    async def contribute(self, ctx: SyncContext) -> SyncContribution:
        out = SyncContribution()
        user_id = ctx.requester.user_id
        # Stored rules reach /sync as account data; only the untouched defaults need adding.
        if ctx.since is not None or user_id in self._customised:
            return out
        if ctx.filter.account_data.allows_type_and_sender(PUSH_RULES, user_id):
            event = {"type": PUSH_RULES, "content": {"global": self.ruleset(user_id)}}
            out.top_level["account_data"] = {"events": [event]}
        return out

    # --- pushers -------------------------------------------------------------------------
    async def live_pushers(self, user_id: str) -> list[Pusher]:
        """The user's pushers; those whose device (access token) is gone are dropped, as Synapse does."""
        pushers = await self.store.pushers_for(user_id)
        devices = {d.device_id for d in await self.account_store.list_devices(user_id)}
        gone = sorted({p.device_id for p in pushers if p.device_id is not None and p.device_id not in devices})
        if gone:
            await self.store.delete_pushers_of_devices(user_id, gone)
        return [p for p in pushers if p.device_id is None or p.device_id not in gone]

    async def pushers(self, user_id: str) -> list[dict[str, Any]]:
        return [p.to_json() for p in await self.live_pushers(user_id)]

    async def set_pusher(self, user_id: str, device_id: str | None, body: Mapping[str, Any]) -> None:
        """spec: pusher.yaml, POST /pushers/set."""
        for name in ("kind", "app_id", "pushkey"):
            if name not in body:
                raise missing_param(f"Missing parameter: {name}")
        app_id, pushkey, kind = body["app_id"], body["pushkey"], body["kind"]
        if not isinstance(app_id, str) or not isinstance(pushkey, str):
            raise bad_json("app_id and pushkey must be strings")
        if not app_id or len(app_id) > 64:
            raise invalid_param("app_id must be 1 to 64 characters")
        if not pushkey or len(pushkey.encode()) > 512:
            raise invalid_param("pushkey must be 1 to 512 bytes")
        if kind is None:
            await self.remove_pusher(user_id, app_id, pushkey)
            return
        if kind not in _PUSHER_KINDS:
            raise invalid_param(f"Unsupported pusher kind {kind!r}")
        missing = [n for n in ("app_display_name", "device_display_name", "lang", "data") if n not in body]
        if missing:
            raise missing_param(f"Missing parameters: {', '.join(missing)}")
        for name in ("app_display_name", "device_display_name", "lang"):
            if not isinstance(body[name], str):
                raise bad_json(f"{name} must be a string")
        profile_tag = body.get("profile_tag")
        if profile_tag is not None and not isinstance(profile_tag, str):
            raise bad_json("profile_tag must be a string")
        data = body["data"]
        if not isinstance(data, dict):
            raise bad_json("data must be an object")
        if kind == "http":
            _check_gateway_url(data.get("url"))
        append = body.get("append", False)
        if not isinstance(append, bool):
            raise bad_json("append must be a boolean")
        pusher = Pusher(
            user_id, app_id, pushkey, kind, body["app_display_name"], body["device_display_name"],
            profile_tag, body["lang"], data, device_id,
        )
        await self.store.set_pusher(pusher, self.clock.time_ms(), append)
        if kind == "http":
            self.http_pusher_users.add(user_id)

    async def remove_pusher(self, user_id: str, app_id: str, pushkey: str) -> None:
        await self.store.delete_pusher(user_id, app_id, pushkey)


def _check_gateway_url(url: Any) -> None:
    """spec: pusher.yaml — http pushers need data.url with the path /_matrix/push/v1/notify."""
    if url is None:
        raise missing_param("data.url is required for http pushers")
    if not isinstance(url, str):
        raise bad_json("data.url must be a string")
    parts = urlsplit(url)
    # The spec asks for HTTPS; plain http is accepted for gateways on private networks.
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise invalid_param("data.url must be an absolute https URL")
    if parts.path != PUSH_GATEWAY_PATH:
        raise invalid_param(f"data.url must have the path {PUSH_GATEWAY_PATH}")
