"""Login throttling: an address with too many failed attempts is refused for a while.

Two doors are guarded, the chat's login route (gradio answers a wrong password
with 400) and ``/api`` (a wrong or missing token is 401). Each counts the
failures of every client address in a sliding window; ``login_max_failures``
inside ``login_window_seconds`` lock the address out for
``login_lockout_seconds``, during which its attempts are answered 429 with
``Retry-After`` without reaching the application. Another address is not
affected. Attempts in flight count against what an address has left, so a
burst of concurrent guesses cannot slip past the limit before the first
failures are known.

It observes response statuses at the edge (pure ASGI) rather than inside the
login check, because that check is gradio's. It never reads a request body, so
no password can reach the log. The client address is uvicorn's, which comes
from ``X-Forwarded-For`` only when the peer is a trusted proxy
(``FOOTNOTES_TRUSTED_PROXIES``, passed to uvicorn as ``forwarded_allow_ips``).

Memory is bounded: entries older than the window (or whose lockout ended) are
pruned on every attempt, and at most ``max_addresses`` addresses are tracked,
the least recently failed forgotten first. Not thread-safe: it lives on the
event loop, which runs one callback at a time.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("footnotes")

MAX_ADDRESSES = 10_000  # ~1 KB each at the default 10 failures: ~10 MB at worst


class Throttle:
    """Failures per address in a sliding window, and the addresses locked out."""

    def __init__(
        self,
        max_failures: int,
        window: float,
        lockout: float,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window <= 0 or lockout <= 0 or max_addresses < 1:
            raise ValueError(
                f"throttle needs positive limits (got {max_failures}, {window}, {lockout}, "
                f"{max_addresses})"
            )
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # least recent first
        self._locked: OrderedDict[str, float] = OrderedDict()  # address -> until, soonest first
        self._in_flight: dict[str, int] = {}

    def locked_for(self, address: str) -> float | None:
        """The seconds ``address`` is still locked out for, or None."""
        now = self.clock()
        self._prune(now)
        until = self._locked.get(address)
        return None if until is None else until - now

    def begin(self, address: str) -> float | None:
        """None when an attempt from ``address`` may go ahead (it is then in flight until
        :meth:`end`); else the seconds it should wait."""
        now = self.clock()
        self._prune(now)
        until = self._locked.get(address)
        if until is not None:
            return until - now
        times = self._failures.get(address, ())
        failures = sum(1 for t in times if now - t <= self.window)
        if failures + self._in_flight.get(address, 0) >= self.max_failures:
            return 1.0  # as many attempts in flight as it has failures left: wait for them
        self._in_flight[address] = self._in_flight.get(address, 0) + 1
        return None

    def end(self, address: str, failed: bool) -> bool:
        """The attempt :meth:`begin` let go ahead is over; True when its failure has just
        locked ``address`` out."""
        left = self._in_flight.get(address, 0) - 1
        if left > 0:
            self._in_flight[address] = left
        else:
            self._in_flight.pop(address, None)
        if not failed:
            return False
        now = self.clock()
        times = self._failures.pop(address, None) or deque(maxlen=self.max_failures)
        times.append(now)
        if len(times) == self.max_failures and now - times[0] <= self.window:
            self._locked[address] = now + self.lockout
            while len(self._locked) > self.max_addresses:
                self._locked.popitem(last=False)
            return True
        self._failures[address] = times
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
        return False

    def tracked(self) -> int:
        """How many addresses are remembered (failing or locked out)."""
        return len(self._failures) + len(self._locked)

    def _prune(self, now: float) -> None:
        while self._failures:
            address, times = next(iter(self._failures.items()))
            if now - times[-1] <= self.window:
                break
            del self._failures[address]
        while self._locked and next(iter(self._locked.values())) <= now:
            self._locked.popitem(last=False)


@dataclass(frozen=True)
class Door:
    """One guarded entrance: which requests go through it, and what status is a failure."""

    what: str  # plural, for the log line: "logins", "API tokens"
    guards: Callable[[str, str], bool]  # (method, path) -> the request goes through this door
    failure: int
    throttle: Throttle
    attempt: Callable[[Scope], bool] = lambda scope: True
    """Whether a request is an attempt that may fail (a request carrying the right API
    token is not one: it is only refused while its address is locked out), so that a
    client's concurrent good requests never count against its failures left."""


class ThrottleMiddleware:
    """Counts each door's failures by client address; answers a locked-out address 429."""

    def __init__(self, app: ASGIApp, doors: Sequence[Door]) -> None:
        self.app = app
        self.doors = tuple(doors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = None
        if scope["type"] == "http":
            door = next((d for d in self.doors if d.guards(scope["method"], scope["path"])), None)
        if door is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        attempt = door.attempt(scope)
        wait = door.throttle.begin(address) if attempt else door.throttle.locked_for(address)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            response = JSONResponse(
                {"detail": f"too many failed {door.what} from {address}; "
                           f"try again in {seconds} s"},
                status_code=429,
                headers={"Retry-After": str(seconds)},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        if not attempt:
            await self.app(scope, receive, send)
            return
        failed = False

        async def observed(message: Message) -> None:
            nonlocal failed
            if message["type"] == "http.response.start":
                failed = message["status"] == door.failure
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            if door.throttle.end(address, failed):
                throttle = door.throttle
                log.warning(
                    "%s: %d failed %s within %g s; refusing it for %g s (HTTP 429)",
                    address, throttle.max_failures, door.what, throttle.window, throttle.lockout,
                )  # fmt: skip
