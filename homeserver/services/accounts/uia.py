"""User-interactive authentication (UIA) sessions.

spec: client-server-api/_index.md, "User-Interactive Authentication API".
An endpoint offers flows (lists of stages); the client completes the stages of
one flow in order, each in a request carrying ``auth: {type, session, ...}``.
Until a flow is complete the server answers 401 with ``{flows, params,
session, completed?}`` (plus ``errcode``/``error`` when a stage attempt failed).

A session is bound to the operation it was created for (``action``) and, when
the request was authenticated, to that user: reusing it for anything else is
403, so a session completed for "delete device" cannot authorise "deactivate".
A session ends when the operation it authorised succeeds (``finish``), so one
completed session cannot authorise a second registration or password change;
otherwise it expires after SESSION_LIFETIME_MS.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from homeserver.clock import Clock
from homeserver.errors import MatrixError, forbidden

SESSION_LIFETIME_MS = 15 * 60 * 1000
MAX_SESSIONS = 10_000

# Stage type names (spec: "Authentication types").
PASSWORD = "m.login.password"
DUMMY = "m.login.dummy"
REGISTRATION_TOKEN = "m.login.registration_token"


@dataclass(slots=True)
class UiaSession:
    session_id: str
    action: str
    # The user this session authenticates: the requester's, or whoever
    # completed an m.login.password stage on an unauthenticated request.
    user_id: str | None
    created_ms: int
    completed: list[str] = field(default_factory=list)


class AuthRequired(MatrixError):
    """The 401 UIA response; ``errcode``/``error`` only when a stage attempt failed."""

    def __init__(
        self,
        flows: Sequence[Sequence[str]],
        params: Mapping[str, Any],
        session: UiaSession,
        errcode: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(errcode or "M_UNAUTHORIZED", 401, message or "Additional authentication required")
        self.flows = [list(f) for f in flows]
        self.params = dict(params)
        self.session = session
        self.failed = errcode is not None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flows": [{"stages": stages} for stages in self.flows],
            "params": self.params,
            "session": self.session.session_id,
        }
        if self.session.completed:
            body["completed"] = list(self.session.completed)
        if self.failed:
            body["errcode"] = self.errcode
            body["error"] = self.message
        return body


class StageFailed(Exception):
    """A stage attempt that failed but may be retried (401 with errcode, same session)."""

    def __init__(self, errcode: str, message: str) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.message = message


# A stage checker gets the submitted auth dict and the session; it returns the
# user ID it authenticated (or None), raises StageFailed for a retryable
# failure, or raises MatrixError for a hard one (e.g. 403 wrong user).
StageChecker = Callable[[Mapping[str, Any], UiaSession], Awaitable[str | None]]


def _next_stages(flows: Sequence[Sequence[str]], completed: Sequence[str]) -> set[str]:
    """Stages that may be attempted now: flows must be followed in order."""
    n = len(completed)
    return {
        list(flow)[n]
        for flow in flows
        if len(flow) > n and list(flow[:n]) == list(completed)
    }


def _flow_complete(flows: Sequence[Sequence[str]], completed: Sequence[str]) -> bool:
    return any(list(flow) == list(completed) for flow in flows)


class UserInteractiveAuth:
    def __init__(self, clock: Clock, checkers: Mapping[str, StageChecker]) -> None:
        self.clock = clock
        self.checkers = dict(checkers)
        self._sessions: OrderedDict[str, UiaSession] = OrderedDict()

    def _new_session(self, action: str, user_id: str | None) -> UiaSession:
        self._expire()
        session = UiaSession(secrets.token_urlsafe(24), action, user_id, self.clock.time_ms())
        self._sessions[session.session_id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def _expire(self) -> None:
        cutoff = self.clock.time_ms() - SESSION_LIFETIME_MS
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.created_ms >= cutoff:
                break
            self._sessions.popitem(last=False)

    def _get_session(self, session_id: str) -> UiaSession | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.created_ms < self.clock.time_ms() - SESSION_LIFETIME_MS:
            del self._sessions[session_id]
            return None
        return session

    def finish(self, session: UiaSession) -> None:
        """Forget a session whose operation has been performed."""
        self._sessions.pop(session.session_id, None)

    async def authenticate(
        self,
        *,
        action: str,
        flows: Sequence[Sequence[str]],
        auth: Mapping[str, Any] | None,
        user_id: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> UiaSession:
        """Return the session once a flow is complete; otherwise raise the 401 response.

        ``user_id`` is the authenticated requester, if any: password stages must
        then prove that same user.
        """
        params = params or {}
        if auth is None:
            # spec: "never succeeds without auth", even with only m.login.dummy.
            raise AuthRequired(flows, params, self._new_session(action, user_id))

        session_id = auth.get("session")
        if session_id is None:
            # Clients may attempt a stage straight away (e.g. dummy registration).
            session = self._new_session(action, user_id)
        else:
            if not isinstance(session_id, str):
                raise MatrixError("M_BAD_JSON", 400, "auth.session must be a string")
            found = self._get_session(session_id)
            if found is None:
                raise MatrixError("M_UNKNOWN", 400, "Unknown or expired UIA session")
            session = found
            if session.action != action or (
                user_id is not None and session.user_id is not None and session.user_id != user_id
            ):
                raise forbidden("Requested operation has changed during the UI authentication session")
            if session.user_id is None:
                session.user_id = user_id

        stage = auth.get("type")
        if stage is not None:
            if not isinstance(stage, str):
                raise MatrixError("M_BAD_JSON", 400, "auth.type must be a string")
            if stage not in session.completed:
                await self._attempt(stage, auth, session, flows, params)

        if _flow_complete(flows, session.completed):
            return session
        raise AuthRequired(flows, params, session)

    async def _attempt(
        self,
        stage: str,
        auth: Mapping[str, Any],
        session: UiaSession,
        flows: Sequence[Sequence[str]],
        params: Mapping[str, Any],
    ) -> None:
        checker = self.checkers.get(stage)
        if checker is None or stage not in {s for f in flows for s in f}:
            raise AuthRequired(
                flows, params, session, "M_UNRECOGNIZED", f"Auth type {stage} is not offered here"
            )
        if stage not in _next_stages(flows, session.completed):
            raise AuthRequired(
                flows, params, session, "M_FORBIDDEN", f"Stage {stage} is not next in any flow"
            )
        try:
            authenticated = await checker(auth, session)
        except StageFailed as e:
            raise AuthRequired(flows, params, session, e.errcode, e.message) from None
        if authenticated is not None:
            if session.user_id is not None and session.user_id != authenticated:
                raise forbidden("Authenticated user does not match the session")
            session.user_id = authenticated
        session.completed.append(stage)
