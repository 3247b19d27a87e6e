"""Ordered start and reverse-order stop of the homeserver's components.

Each component with background work or caches to load is registered once, in start
order, with an async ``start`` and/or ``stop``. ``start`` runs them in that order on an
``AsyncExitStack``: if one fails, the stops of those already started run (in reverse)
before the error propagates, so a failed start leaks no task or connection. ``stop``
runs every registered stop in reverse start order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

logger = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None] | None]

# A component that takes longer than this to stop is abandoned (with an error naming it),
# so one stuck task cannot keep the whole server from exiting.
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    start: Step | None
    stop: Step | None


async def _run(step: Step) -> None:
    result = step()
    if result is not None:
        await result


class Lifecycle:
    def __init__(self) -> None:
        self._components: list[Component] = []
        self._stack: AsyncExitStack | None = None

    def add(self, name: str, *, start: Step | None = None, stop: Step | None = None) -> None:
        """Register a component; components start in registration order, stop in reverse."""
        if self._stack is not None:
            raise RuntimeError(f"cannot add {name!r}: already started")
        self._components.append(Component(name, start, stop))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._components]

    @property
    def started(self) -> bool:
        return self._stack is not None

    async def start(self) -> None:
        if self._stack is not None:
            raise RuntimeError("already started")
        stack = AsyncExitStack()
        try:
            for component in self._components:
                if component.start is not None:
                    await _run(component.start)
                if component.stop is not None:
                    stack.push_async_callback(self._stop_one, component)
        except BaseException:
            logger.error("start failed; stopping the components already started")
            await stack.aclose()
            raise
        self._stack = stack

    async def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    @staticmethod
    async def _stop_one(component: Component) -> None:
        assert component.stop is not None
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await _run(component.stop)
        except TimeoutError:
            logger.error("stopping %s took over %.0f s; going on without it", component.name, STOP_TIMEOUT_S)
        except Exception:  # one component's failure must not keep the rest running
            logger.exception("stopping %s failed", component.name)
