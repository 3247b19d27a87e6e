"""Registration, login, logout, whoami, password, deactivation and device endpoints.

spec: client-server-api/_index.md, "Client Authentication" and "Device management";
OpenAPI in data/api/client-server/{registration,registration_tokens,login,logout,
whoami,password_management,account_deactivation,device_management}.yaml.
Every path is served under v3 and under r0, which older clients still use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from homeserver.api.request import (
    access_token_of,
    client_ip,
    get_hs,
    optional_user,
    read_json_object,
    require_user,
    validation_message,
)
from homeserver.api.response import empty_response, json_response
from homeserver.errors import MatrixError, invalid_param, missing_param
from homeserver.services.accounts.accounts import Session, identifier_user
from homeserver.storage.accounts import DeviceRecord
from schemas.client.accounts import (
    AvailableResponse,
    DeactivateRequest,
    DeactivateResponse,
    DeleteDevicesRequest,
    Device,
    DeviceDeleteRequest,
    DevicesResponse,
    DeviceUpdateRequest,
    LoginFlow,
    LoginFlowsResponse,
    LoginRequest,
    LoginResponse,
    PasswordChangeRequest,
    RefreshRequest,
    RefreshResponse,
    RegisterRequest,
    RegisterResponse,
    TokenValidityResponse,
    WhoamiResponse,
)

routes = web.RouteTableDef()

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Any]

PASSWORD_LOGIN = "m.login.password"


def client_route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register a handler under /_matrix/client/v3 and /_matrix/client/r0."""

    def decorate(handler: Handler) -> Handler:
        for prefix in ("/_matrix/client/v3", "/_matrix/client/r0"):
            routes.route(method, prefix + path)(handler)
        return handler

    return decorate


async def read_body(request: web.Request, model: type[M], *, allow_empty: bool = False) -> M:
    """Parse the JSON body: a missing required key is M_MISSING_PARAM, a wrong type M_BAD_JSON."""
    data = await read_json_object(request, allow_empty=allow_empty)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        if any(err["type"] == "missing" for err in e.errors()):
            missing = [".".join(map(str, err["loc"])) for err in e.errors() if err["type"] == "missing"]
            raise missing_param(f"Missing required key: {', '.join(missing)}") from None
        raise MatrixError("M_BAD_JSON", 400, validation_message(e)) from None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_none=True)


def device_json(device: DeviceRecord) -> Device:
    return Device(
        device_id=device.device_id,
        display_name=device.display_name,
        last_seen_ip=device.last_seen_ip,
        last_seen_ts=device.last_seen_ts,
    )


# --- registration ---------------------------------------------------------------------
APPSERVICE_LOGIN = "m.login.application_service"


@client_route("POST", "/register")
async def register(request: web.Request) -> web.Response:
    hs = get_hs(request)
    token = access_token_of(request)
    service = hs.appservices.service_for_token(token) if token is not None else None
    if service is None or service.rate_limited:
        hs.accounts.register_limiter.check(client_ip(request))
    kind = request.query.get("kind", "user")
    if kind == "guest":
        raise MatrixError("M_GUEST_ACCESS_FORBIDDEN", 403, "Guest access is disabled")
    if kind != "user":
        raise invalid_param("kind must be 'user' or 'guest'")
    body = await read_body(request, RegisterRequest)
    auth_type = (body.auth or {}).get("type")
    if getattr(body, "type", None) == APPSERVICE_LOGIN or auth_type == APPSERVICE_LOGIN:
        # spec: application-service-api.md, "Server admin style permissions" — registration
        # by an application service, with its as_token, whether or not registration is open.
        session = await hs.appservices.register_user(
            service, username=body.username, device_id=body.device_id,
            device_display_name=body.initial_device_display_name, inhibit_login=body.inhibit_login,
            ip=client_ip(request), refresh_token=body.refresh_token,
        )
        return json_response(dump(register_response(session, hs.server_name)))
    hs.accounts.ensure_registration_open()
    session = await hs.accounts.register(
        username=body.username,
        password=body.password,
        auth=body.auth,
        device_id=body.device_id,
        device_display_name=body.initial_device_display_name,
        inhibit_login=body.inhibit_login,
        ip=client_ip(request),
        refresh_token=body.refresh_token,
    )
    return json_response(dump(register_response(session, hs.server_name)))


def register_response(session: Session, server_name: str) -> RegisterResponse:
    return RegisterResponse(
        user_id=session.user_id,
        access_token=session.access_token,
        device_id=session.device_id,
        home_server=server_name,
        refresh_token=session.refresh_token,
        expires_in_ms=session.expires_in_ms,
    )


@client_route("GET", "/register/available")
async def register_available(request: web.Request) -> web.Response:
    hs = get_hs(request)
    hs.accounts.register_limiter.check(client_ip(request))
    username = request.query.get("username")
    if username is None:
        raise missing_param("username is required")
    await hs.accounts.check_username_available(username)
    return json_response(dump(AvailableResponse(available=True)))


@routes.get("/_matrix/client/v1/register/m.login.registration_token/validity")
async def registration_token_validity(request: web.Request) -> web.Response:
    hs = get_hs(request)
    # spec: registration_tokens.yaml — "Servers should be sure to rate limit this endpoint".
    hs.accounts.register_limiter.check(client_ip(request))
    hs.accounts.ensure_registration_open()
    token = request.query.get("token")
    if token is None:
        raise missing_param("token is required")
    valid = hs.accounts.is_registration_token_valid(token) or await hs.registration_tokens.is_valid(token)
    return json_response(dump(TokenValidityResponse(valid=valid)))


# --- login / logout -------------------------------------------------------------------------
@client_route("GET", "/login")
async def login_flows(request: web.Request) -> web.Response:
    return json_response(dump(LoginFlowsResponse(flows=[LoginFlow(type=PASSWORD_LOGIN)])))


@client_route("POST", "/login")
async def login(request: web.Request) -> web.Response:
    hs = get_hs(request)
    hs.accounts.login_limiter.check(client_ip(request))
    body = await read_body(request, LoginRequest)
    if body.type != PASSWORD_LOGIN:
        # spec: login.yaml 400 — "the login type may not be recognised".
        raise MatrixError("M_UNKNOWN", 400, f"Unknown login type {body.type}")
    identifier = body.identifier.model_dump() if body.identifier is not None else None
    if identifier is None and body.user is None and (body.medium or body.address):
        raise MatrixError("M_FORBIDDEN", 403, "No user is bound to that third-party identifier")
    user = identifier_user(identifier, body.user)
    if body.password is None:
        raise missing_param("password is required")
    session = await hs.accounts.login_with_password(
        user=user,
        password=body.password,
        device_id=body.device_id,
        device_display_name=body.initial_device_display_name,
        ip=client_ip(request),
        refresh_token=body.refresh_token,
    )
    assert session.access_token is not None and session.device_id is not None
    response = LoginResponse(
        user_id=session.user_id,
        access_token=session.access_token,
        device_id=session.device_id,
        home_server=hs.server_name,
        well_known={"m.homeserver": {"base_url": hs.config.base_url}},
        refresh_token=session.refresh_token,
        expires_in_ms=session.expires_in_ms,
    )
    return json_response(dump(response))


@client_route("POST", "/refresh")
async def refresh(request: web.Request) -> web.Response:
    """spec: refresh.yaml — no access token is needed (the old one may have expired)."""
    hs = get_hs(request)
    hs.accounts.login_limiter.check(client_ip(request))
    body = await read_body(request, RefreshRequest)
    tokens = await hs.auth.refresh(body.refresh_token)
    response = RefreshResponse(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in_ms=tokens.expires_in_ms,
    )
    return json_response(dump(response))


@client_route("POST", "/logout")
async def logout(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).accounts.logout(requester)
    return empty_response()


@client_route("POST", "/logout/all")
async def logout_all(request: web.Request) -> web.Response:
    requester = await require_user(request)
    await get_hs(request).accounts.logout_all(requester.user_id)
    return empty_response()


@client_route("GET", "/account/whoami")
async def whoami(request: web.Request) -> web.Response:
    requester = await require_user(request)
    response = WhoamiResponse(user_id=requester.user_id, device_id=requester.device_id, is_guest=False)
    return json_response(dump(response))


# --- account management ----------------------------------------------------------------------
@client_route("POST", "/account/password")
async def change_password(request: web.Request) -> web.Response:
    hs = get_hs(request)
    # spec: password_management.yaml — an access token is optional; the
    # m.login.password stage then identifies the user.
    requester = await optional_user(request)
    body = await read_body(request, PasswordChangeRequest)
    # Refused before User-Interactive Authentication, so no one authenticates for nothing.
    hs.accounts.password_policy.check(body.new_password)
    uia = await hs.accounts.require_password_auth(
        action="change_password", auth=body.auth, requester=requester
    )
    assert uia.user_id is not None
    await hs.accounts.change_password(
        uia.user_id, body.new_password, logout_devices=body.logout_devices, requester=requester
    )
    hs.accounts.uia.finish(uia)
    return empty_response()


@client_route("POST", "/account/deactivate")
async def deactivate(request: web.Request) -> web.Response:
    hs = get_hs(request)
    requester = await optional_user(request)
    body = await read_body(request, DeactivateRequest, allow_empty=True)
    uia = await hs.accounts.require_password_auth(
        action="deactivate", auth=body.auth, requester=requester
    )
    assert uia.user_id is not None
    await hs.accounts.deactivate(uia.user_id)
    hs.accounts.uia.finish(uia)
    # No third-party identifiers are ever bound here, and no identity server is known.
    return json_response(dump(DeactivateResponse(id_server_unbind_result="no-support")))


# --- devices -------------------------------------------------------------------------------------
@client_route("GET", "/devices")
async def list_devices(request: web.Request) -> web.Response:
    requester = await require_user(request)
    devices = await get_hs(request).accounts.list_devices(requester.user_id)
    return json_response(dump(DevicesResponse(devices=[device_json(d) for d in devices])))


@client_route("GET", "/devices/{device_id}")
async def get_device(request: web.Request) -> web.Response:
    requester = await require_user(request)
    device = await get_hs(request).accounts.get_device(
        requester.user_id, request.match_info["device_id"]
    )
    return json_response(dump(device_json(device)))


@client_route("PUT", "/devices/{device_id}")
async def update_device(request: web.Request) -> web.Response:
    requester = await require_user(request)
    body = await read_body(request, DeviceUpdateRequest, allow_empty=True)
    await get_hs(request).accounts.rename_device(
        requester.user_id, request.match_info["device_id"], body.display_name
    )
    return empty_response()


@client_route("DELETE", "/devices/{device_id}")
async def delete_device(request: web.Request) -> web.Response:
    hs = get_hs(request)
    requester = await require_user(request)
    body = await read_body(request, DeviceDeleteRequest, allow_empty=True)
    device_id = request.match_info["device_id"]
    uia = await hs.accounts.require_password_auth(
        action=f"delete_devices {device_id}", auth=body.auth, requester=requester
    )
    await hs.accounts.delete_devices(requester.user_id, [device_id])
    hs.accounts.uia.finish(uia)
    return empty_response()


@client_route("POST", "/delete_devices")
async def delete_devices(request: web.Request) -> web.Response:
    hs = get_hs(request)
    requester = await require_user(request)
    body = await read_body(request, DeleteDevicesRequest)
    uia = await hs.accounts.require_password_auth(
        action="delete_devices " + " ".join(sorted(set(body.devices))), auth=body.auth, requester=requester
    )
    await hs.accounts.delete_devices(requester.user_id, body.devices)
    hs.accounts.uia.finish(uia)
    return empty_response()
