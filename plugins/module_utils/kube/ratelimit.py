# Copyright: scalelab contributors
# Apache-2.0
"""A token bucket shared by every worker thread: the client-side QPS/burst limit of client-go, in Python."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """qps tokens per second up to `burst` banked; qps <= 0 means unlimited."""

    def __init__(
        self,
        qps: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if qps > 0 and burst < 1:
            raise ValueError(f"burst={burst} must be >= 1 when qps={qps} > 0")
        self.qps = float(qps)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.waited = 0.0

    def reserve(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        if self.qps <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.qps
            self.waited += wait
            return wait

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
