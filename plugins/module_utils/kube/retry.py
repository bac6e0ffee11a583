# Copyright: scalelab contributors
# Apache-2.0
"""The one retry policy: 429 honours Retry-After, 5xx and connection errors back off exponentially.

An apiserver restart (connection refused, 503 while it warms up) or API priority and fairness (429 with
Retry-After) are normal during a scale run; each is retried until the policy's deadline, and counted so the
results can say how often it happened.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

try:
    import requests

    CONN_ERRORS: tuple[type[BaseException], ...] = (requests.ConnectionError, requests.Timeout)
except ImportError:  # pragma: no cover
    CONN_ERRORS = (ConnectionError, TimeoutError)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """deadline: seconds one call may keep retrying; base/cap: exponential backoff bounds (with jitter);
    acquire: the run's rate limiter, taken before every retry (a retry is a request like any other)."""

    deadline: float = 120.0
    base: float = 0.2
    cap: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    acquire: Callable[[], None] | None = None
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def backoff(self, attempt: int) -> float:
        return min(self.cap, self.base * (2**attempt)) * (0.5 + random.random() / 2)

    def wait(self, delay: float) -> None:
        """Sleep, then take a token: the retry that follows is paced like every other call."""
        self.sleep(delay)
        if self.acquire is not None:
            self.acquire()


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the apiserver sends whole seconds); None if absent or unparsable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def call_with_retry(fn: Callable[[], object], policy: RetryPolicy) -> object:
    """Call fn until it returns a response whose status is not retryable, or the deadline passes.

    The last response (or connection error) is returned (raised) when the deadline is reached, so the caller
    reports the real status.
    """
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            resp = fn()
        except CONN_ERRORS:
            policy.count("connection")
            left = policy.deadline - (time.monotonic() - start)
            if left <= 0:
                raise
            policy.wait(min(policy.backoff(attempt), left))
            attempt += 1
            continue
        status = getattr(resp, "status_code", 200)
        if status not in RETRY_STATUSES:
            return resp
        policy.count(str(status))
        wait = retry_after(resp.headers.get("Retry-After")) if status == 429 else None
        # Retry-After is the server's least wait; up to a quarter more spreads the clients it told the same.
        delay = wait * (1 + random.random() / 4) if wait is not None else policy.backoff(attempt)
        if time.monotonic() - start + delay > policy.deadline:
            return resp
        policy.wait(delay)
        attempt += 1
