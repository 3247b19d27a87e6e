"""Wire formats of registration, login, logout, account and device endpoints.

spec: data/api/client-server/{registration,login,logout,whoami,password_management,
account_deactivation,device_management,registration_tokens}.yaml

Request models are strict (no "1" -> true or 1 -> "1" coercion) and allow
unknown keys, which the spec lets clients send.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- registration -------------------------------------------------------------
class RegisterRequest(_Request):
    auth: dict[str, Any] | None = None
    username: str | None = None
    password: str | None = None
    device_id: str | None = None
    initial_device_display_name: str | None = None
    inhibit_login: bool = False
    refresh_token: bool = False


class RegisterResponse(_Response):
    user_id: str
    access_token: str | None = None
    device_id: str | None = None
    home_server: str
    refresh_token: str | None = None
    expires_in_ms: int | None = None


class AvailableResponse(_Response):
    available: bool


class TokenValidityResponse(_Response):
    valid: bool


# --- login --------------------------------------------------------------------
class UserIdentifier(_Request):
    # spec: "Identifier types"; m.id.user carries `user`, the others 3PID fields.
    type: str
    user: str | None = None
    medium: str | None = None
    address: str | None = None
    country: str | None = None
    phone: str | None = None


class LoginRequest(_Request):
    type: str
    identifier: UserIdentifier | None = None
    user: str | None = None  # deprecated in favour of identifier
    medium: str | None = None  # deprecated
    address: str | None = None  # deprecated
    password: str | None = None
    token: str | None = None
    device_id: str | None = None
    initial_device_display_name: str | None = None
    refresh_token: bool = False


class LoginFlow(_Response):
    type: str


class LoginFlowsResponse(_Response):
    flows: list[LoginFlow]


class LoginResponse(_Response):
    user_id: str
    access_token: str
    device_id: str
    home_server: str
    well_known: dict[str, Any]
    refresh_token: str | None = None
    expires_in_ms: int | None = None


# --- refresh (spec: refresh.yaml) ---------------------------------------------------
class RefreshRequest(_Request):
    refresh_token: str


class RefreshResponse(_Response):
    access_token: str
    refresh_token: str | None = None
    expires_in_ms: int | None = None


class WhoamiResponse(_Response):
    user_id: str
    device_id: str | None = None
    is_guest: bool = False


# --- account management ------------------------------------------------------------
class PasswordChangeRequest(_Request):
    new_password: str
    logout_devices: bool = True
    auth: dict[str, Any] | None = None


class DeactivateRequest(_Request):
    auth: dict[str, Any] | None = None
    id_server: str | None = None
    erase: bool = False


class DeactivateResponse(_Response):
    id_server_unbind_result: Literal["success", "no-support"]


# --- devices ------------------------------------------------------------------
class Device(_Response):
    device_id: str
    display_name: str | None = None
    last_seen_ip: str | None = None
    last_seen_ts: int | None = None


class DevicesResponse(_Response):
    devices: list[Device]


class DeviceUpdateRequest(_Request):
    display_name: str | None = None


class DeviceDeleteRequest(_Request):
    auth: dict[str, Any] | None = None


class DeleteDevicesRequest(_Request):
    devices: list[str]
    auth: dict[str, Any] | None = None
