"""Homeserver configuration: one YAML file validated by a pydantic model.

`parleyd init` writes a commented default (see ``DEFAULT_CONFIG_TEMPLATE``);
``load_config`` turns any mistake into a one-line ``ConfigError`` naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(Exception):
    """A configuration problem, phrased for an operator in one line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListenConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8008, ge=0, le=65535)


class RegistrationConfig(_Section):
    enabled: bool = True
    # When non-empty, registration needs one of these tokens (m.login.registration_token).
    tokens: list[str] = []
    # Registrations and logins allowed per client IP per minute, with a burst.
    rate_per_minute: float = Field(default=30.0, gt=0)
    burst: int = Field(default=10, ge=1)
    # When set, /_synapse/admin/v1/register creates users (and admins) for whoever knows it.
    shared_secret: str | None = None
    # Lifetime of access tokens issued with a refresh token (clients asking `refresh_token: true`);
    # other access tokens do not expire.
    access_token_lifetime_ms: int = Field(default=300_000, ge=1000)


class LimitsConfig(_Section):
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)


class PasswordHashingConfig(_Section):
    # argon2id cost; the default is OWASP's recommendation (t=2, m=19 MiB).
    opslimit: int = Field(default=2, ge=1)
    memlimit_kib: int = Field(default=19456, ge=8)


class PasswordPolicyConfig(_Section):
    enabled: bool = False
    minimum_length: int = Field(default=0, ge=0, le=1024)
    require_digit: bool = False
    require_symbol: bool = False
    require_lowercase: bool = False
    require_uppercase: bool = False


class PasswordConfig(_Section):
    # Synapse's password_config section (only its policy is used here).
    policy: PasswordPolicyConfig = PasswordPolicyConfig()


class TrustedKeyServerConfig(_Section):
    server_name: str
    # Optional pinned keys ("ed25519:abc" -> base64 public key); when set, the notary's
    # answers must carry a signature by one of them.
    verify_keys: dict[str, str] = {}


class FederationListenConfig(_Section):
    """A second site serving the same app over HTTPS for other servers (SYNAPSE.md §3)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8448, ge=0, le=65535)
    tls_certificate_path: str
    tls_private_key_path: str


class MediaConfig(_Section):
    """The media repository (spec: client-server-api "Content repository").

    The size limit of one upload is ``limits.max_upload_bytes``.
    """

    # Where files live, relative to data_dir; files are named by their SHA-256.
    store_path: str = "media"
    # Total bytes of media one local user may store; 0 means no quota.
    user_quota_bytes: int = Field(default=0, ge=0)
    # Delete media nobody downloaded for this many days; 0 keeps media forever.
    local_retention_days: float = Field(default=0, ge=0)
    remote_retention_days: float = Field(default=0, ge=0)
    # How often the retention sweep runs.
    retention_interval_seconds: float = Field(default=3600, gt=0)
    # POST /_matrix/media/v1/create: lifetime and per-user number of IDs awaiting upload.
    unused_id_lifetime_seconds: int = Field(default=86400, ge=1)
    max_pending_uploads: int = Field(default=10, ge=1)
    # Longest wait a download may ask for (timeout_ms) on media not yet uploaded.
    max_download_wait_ms: int = Field(default=20000, ge=0)
    # Images with more pixels than this are never decoded (decompression bombs).
    max_image_pixels: int = Field(default=32_000_000, ge=1)
    # Largest remote file fetched over federation; 0 means limits.max_upload_bytes.
    max_remote_bytes: int = Field(default=0, ge=0)
    # GET preview_url fetches web pages for clients: off unless enabled. Addresses in the
    # denylist (default: private, loopback, link-local, reserved) are refused unless allowlisted.
    url_preview_enabled: bool = False
    url_preview_ip_range_denylist: list[str] | None = None
    url_preview_ip_range_allowlist: list[str] = Field(default_factory=list)


class FederationConfig(_Section):
    enabled: bool = True
    # Plain HTTP between servers; only for loopback development (ARCHITECTURE.md).
    allow_plain_http: bool = False
    # CA bundle for federation TLS; replaces the system trust store when set.
    ca_bundle: str | None = None
    tls_min_version: Literal["1.2", "1.3"] = "1.2"
    # Notaries asked through /_matrix/key/v2/query; empty means ask each origin directly.
    trusted_key_servers: list[TrustedKeyServerConfig] = []
    # How long our published server keys stay valid (valid_until_ts).
    key_validity_hours: int = Field(default=24, ge=1, le=24 * 7)
    listen: FederationListenConfig | None = None
    # Served as m.server in /.well-known/matrix/server to delegate federation
    # ("host[:port]"); unset: that endpoint answers 404.
    well_known_server: str | None = None

    @field_validator("well_known_server")
    @classmethod
    def _check_well_known_server(cls, v: str | None) -> str | None:
        from schemas.identifiers import is_valid_server_name

        if v is not None and not is_valid_server_name(v):
            raise ValueError("must be a hostname with an optional :port, e.g. matrix.example.org:443")
        return v


class WebClientConfig(_Section):
    # The browser client (clients/web) at / on the client port; false serves no page.
    enabled: bool = True
    # A folder with another build of it (index.html and assets/); default: the one
    # installed with Parley.
    path: str | None = None


class ServerNoticesConfig(_Section):
    # The system user that sends server notices and owns the default rooms (cannot log in).
    localpart: str = "notices"
    display_name: str = "Server Notices"
    room_name: str = "Server Notices"


class UserDirectoryConfig(_Section):
    # false: search room-mates and members of public rooms (the spec's minimum);
    # true: every local user as well (Synapse's search_all_users).
    search_all_users: bool = False


# Synapse's duration units (synapse/config/_base.py, parse_duration); a bare number is ms.
_DURATION_UNITS_MS = {
    "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
    "w": 7 * 86_400_000, "y": 365 * 86_400_000,
}


def parse_duration_ms(value: object) -> int:
    """Milliseconds from an int (ms) or a Synapse-style string: "500", "90s", "1h", "7d"."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 3600000 (ms) or \"1h\"")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        unit = next((u for u in ("ms", "s", "m", "h", "d", "w", "y") if text.endswith(u)), "")
        number = text[: len(text) - len(unit)] if unit else text
        if number.isdigit():
            return int(number) * _DURATION_UNITS_MS[unit or "ms"]
    raise ValueError("must be a duration such as 3600000 (ms) or \"1h\" (units ms, s, m, h, d, w, y)")


class AppServiceTransactionsConfig(_Section):
    """How transactions to application services are retried (docs/appservices.md)."""

    # The first retry waits this long; each failure doubles the wait up to retry_max_ms.
    retry_initial_ms: int = Field(default=1000, ge=1)
    retry_max_ms: int = Field(default=300_000, ge=1)
    # Timeout of each HTTP request to an application service.
    timeout_seconds: float = Field(default=30.0, gt=0)
    # At most this many events of each kind in one transaction.
    max_events_per_transaction: int = Field(default=100, ge=1)


class Config(_Section):
    server_name: str
    data_dir: str = "./data"
    signing_key_path: str = "signing.key"
    database_path: str = "homeserver.db"
    public_baseurl: str | None = None
    listen: ListenConfig = ListenConfig()
    registration: RegistrationConfig = RegistrationConfig()
    limits: LimitsConfig = LimitsConfig()
    password_hashing: PasswordHashingConfig = PasswordHashingConfig()
    password_config: PasswordConfig = PasswordConfig()
    federation: FederationConfig = FederationConfig()
    media: MediaConfig = MediaConfig()
    default_room_version: str = "12"
    # Rooms (aliases) every new user joins; local ones are created at start if missing.
    default_rooms: list[str] = []
    # Peers whose X-Forwarded-For is believed (addresses or CIDR networks), for IP bans.
    trusted_proxies: list[str] = []
    server_notices: ServerNoticesConfig = ServerNoticesConfig()
    user_directory: UserDirectoryConfig = UserDirectoryConfig()
    web_client: WebClientConfig = WebClientConfig()
    # TURN for VoIP (GET /voip/turnServer), under Synapse's top-level names: credentials
    # in coturn's REST API scheme from the secret shared with coturn (use-auth-secret).
    turn_uris: list[str] = []
    turn_shared_secret: str | None = None
    # How long the credentials are valid, in ms or a Synapse-style string ("1h").
    turn_user_lifetime: int = Field(default=3_600_000, ge=1000)
    # Accepted for Synapse configs; without effect while Parley has no guest accounts.
    turn_allow_guests: bool = True
    # MSC4140 delayed events: the longest delay a client may ask for, in ms or a
    # Synapse-style string ("1d"), under Synapse's name. 0 turns delayed events off.
    max_event_delay_duration: int = Field(default=86_400_000, ge=0)
    log_level: str = "INFO"
    # Application service registration files (Synapse's key and YAML format; relative
    # paths are relative to data_dir), and how transactions to them are retried.
    app_service_config_files: list[str] = []
    app_service_transactions: AppServiceTransactionsConfig = AppServiceTransactionsConfig()

    @field_validator("server_name")
    @classmethod
    def _check_server_name(cls, v: str) -> str:
        # spec: appendices.md, "Server Name": hostname [ ":" port ]
        if not v or any(c.isspace() for c in v) or "/" in v:
            raise ValueError("must be a hostname with an optional :port, e.g. example.org")
        return v

    @field_validator("default_rooms")
    @classmethod
    def _check_default_rooms(cls, v: list[str]) -> list[str]:
        from schemas.identifiers import is_valid_room_alias

        for alias in v:
            if not is_valid_room_alias(alias):
                raise ValueError(f"{alias!r} is not a room alias like #welcome:example.org")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, v: list[str]) -> list[str]:
        import ipaddress

        for proxy in v:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names the bad entry
        return v

    @field_validator("default_room_version")
    @classmethod
    def _check_room_version(cls, v: str) -> str:
        from federation.rooms.versions import KNOWN_ROOM_VERSIONS

        if v not in KNOWN_ROOM_VERSIONS:
            raise ValueError(f"must be one of {sorted(KNOWN_ROOM_VERSIONS)}")
        return v

    @field_validator("turn_uris")
    @classmethod
    def _check_turn_uris(cls, v: list[str]) -> list[str]:
        # spec: data/api/client-server/voip.yaml — uris match "^turns?:".
        for uri in v:
            if not (uri.startswith(("turn:", "turns:")) and len(uri) > len("turns:")):
                raise ValueError(f"{uri!r} is not a TURN URI like turn:turn.example.org:3478?transport=udp")
        return v

    @field_validator("turn_shared_secret")
    @classmethod
    def _check_turn_shared_secret(cls, v: str | None) -> str | None:
        if v is not None and not v:
            raise ValueError("must not be empty (leave it unset to turn TURN off)")
        return v

    @field_validator("turn_user_lifetime", mode="before")
    @classmethod
    def _check_turn_user_lifetime(cls, v: object) -> int:
        return parse_duration_ms(v)

    @field_validator("max_event_delay_duration", mode="before")
    @classmethod
    def _check_max_event_delay_duration(cls, v: object) -> int:
        return parse_duration_ms(v)

    @model_validator(mode="after")
    def _check_turn_complete(self) -> Config:
        if self.turn_uris and self.turn_shared_secret is None:
            raise ValueError("turn_uris is set but turn_shared_secret is not (coturn's static-auth-secret)")
        return self

    # Paths in the config are relative to data_dir unless absolute.
    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else Path(self.data_dir) / p

    @property
    def base_url(self) -> str:
        if self.public_baseurl:
            return self.public_baseurl.rstrip("/")
        host = self.listen.host if self.listen.host not in ("0.0.0.0", "::") else "localhost"
        return f"http://{host}:{self.listen.port}"


def _describe(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required key is missing"
    more = f" (and {len(err.errors()) - 1} more problems)" if len(err.errors()) > 1 else ""
    return f"{source}: {key}: {msg}{more}"


def parse_config(data: Any, source: str = "config") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys to values")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    config = parse_config(data, str(path))
    # A relative data_dir is relative to the directory holding the config file.
    if not Path(config.data_dir).is_absolute():
        config.data_dir = str((path.parent / config.data_dir).resolve())
    return config


DEFAULT_CONFIG_TEMPLATE = """\
# Parley homeserver configuration. Paths are relative to data_dir.

# The public name of this server: the part after ':' in user IDs (@alice:{server_name}).
# It cannot be changed once users and rooms exist.
server_name: "{server_name}"

# Where the database, signing key and media live.
data_dir: "{data_dir}"
signing_key_path: "signing.key"
database_path: "homeserver.db"

# The URL clients use to reach this server (advertised in /.well-known/matrix/client).
# public_baseurl: "https://matrix.example.org"

listen:
  host: "{host}"
  port: {port}

registration:
  # Set to false to close registration.
  enabled: true
  # If set, registering needs one of these tokens (m.login.registration_token).
  tokens: []
  # Registrations/logins allowed per client IP per minute, and the burst above that.
  rate_per_minute: 30
  burst: 10
  # Secret for Synapse-style shared-secret registration (/_synapse/admin/v1/register);
  # unset: that endpoint is off.
  # shared_secret: "a long random string"
  # Access tokens of clients that ask for a refresh token expire after this long (ms);
  # the client then refreshes them (POST /refresh). Other access tokens never expire.
  access_token_lifetime_ms: 300000

# Password rules for registration and password changes (Synapse's password_config);
# a password that breaks one is refused with M_WEAK_PASSWORD.
password_config:
  policy:
    enabled: false
    minimum_length: 12
    require_digit: false
    require_symbol: false
    require_lowercase: false
    require_uppercase: false

limits:
  max_request_body_bytes: 1048576
  max_upload_bytes: 52428800

media:
  # Files are stored under data_dir/<store_path>, one file per distinct content (SHA-256).
  store_path: "media"
  # Bytes of media each local user may store (0 = no quota).
  user_quota_bytes: 0
  # Delete media not downloaded for this many days (0 = keep forever).
  local_retention_days: 0
  remote_retention_days: 0
  retention_interval_seconds: 3600
  # IDs from /_matrix/media/v1/create expire unused after this long; at most this many pending per user.
  unused_id_lifetime_seconds: 86400
  max_pending_uploads: 10
  # Longest a download waits for media that is created but not yet uploaded.
  max_download_wait_ms: 20000
  # Images with more pixels are never decoded or thumbnailed.
  max_image_pixels: 32000000
  # Largest remote file fetched over federation (0 = limits.max_upload_bytes).
  max_remote_bytes: 0
  # URL previews (GET preview_url) fetch pages for clients; off unless enabled. Private,
  # loopback and reserved addresses are refused unless listed in url_preview_ip_range_allowlist.
  url_preview_enabled: false
  # url_preview_ip_range_denylist: ["127.0.0.0/8", "10.0.0.0/8"]   # replaces the default list
  url_preview_ip_range_allowlist: []

federation:
  enabled: true
  # Plain HTTP between servers. Only for development on loopback.
  allow_plain_http: false
  # CA bundle to trust for federation TLS (replaces the system trust store).
  # ca_bundle: "/etc/parley/ca.pem"
  tls_min_version: "1.2"
  # Notaries for server keys (/_matrix/key/v2/query); empty: ask each server directly.
  trusted_key_servers: []
  # Validity of our published server keys, in hours (at most 168).
  key_validity_hours: 24
  # Serve federation over HTTPS on its own port (needed to federate with Synapse).
  # listen:
  #   host: "0.0.0.0"
  #   port: 8448
  #   tls_certificate_path: "/etc/parley/tls.crt"
  #   tls_private_key_path: "/etc/parley/tls.key"
  # Delegate federation for server_name to another host (/.well-known/matrix/server).
  # well_known_server: "matrix.example.org:443"

# Room version for new rooms (10, 11 or 12).
default_room_version: "12"

# Rooms every newly registered user joins; local aliases are created at start if missing.
default_rooms: []
#  - "#welcome:{server_name}"

# Reverse proxies whose X-Forwarded-For header gives the client address (for IP bans).
trusted_proxies: []

# The system user that sends server notices and owns the default rooms.
server_notices:
  localpart: "notices"
  display_name: "Server Notices"
  room_name: "Server Notices"

user_directory:
  # true: /user_directory/search finds every local user, not only room-mates and
  # members of public rooms.
  search_all_users: false

# TURN for voice calls (GET /_matrix/client/v3/voip/turnServer), under Synapse's names.
# Clients get time-limited credentials in coturn's REST API scheme: run coturn with
# use-auth-secret and static-auth-secret set to turn_shared_secret. Unset: no TURN.
# turn_uris:
#   - "turn:turn.example.org:3478?transport=udp"
#   - "turn:turn.example.org:3478?transport=tcp"
#   - "turns:turn.example.org:5349?transport=tcp"
# turn_shared_secret: "the same long random string as coturn's static-auth-secret"
# How long credentials are valid: milliseconds or "30m", "1h", "1d".
turn_user_lifetime: "1h"
# Parley has no guest accounts; the key is accepted so Synapse settings carry over.
turn_allow_guests: true

# MSC4140 delayed events (call membership cleared when a client vanishes): the longest
# delay a client may ask for; 0 turns them off.
max_event_delay_duration: "1d"

# Application services (bridges, bots): their registration files, Synapse's format;
# relative paths are relative to data_dir. See docs/appservices.md.
# app_service_config_files:
#   - telegram-registration.yaml
# app_service_transactions:
#   retry_initial_ms: 1000
#   retry_max_ms: 300000

log_level: "INFO"
"""
