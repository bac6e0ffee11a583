# Copyright: scalelab contributors
# Apache-2.0
"""Create or delete the objects of a labelled set, concurrently, resumable: the engine behind the *_bulk modules.

ensure_present/ensure_absent return (changed, state) in the amazon.aws way; check mode is passed down and makes
no write. What exists is read with one paginated list per kind and label selector, never one GET per object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ansible_collections.scalelab.capi.plugins.module_utils import stats
from ansible_collections.scalelab.capi.plugins.module_utils.bulk import BulkResult, run_all
from ansible_collections.scalelab.capi.plugins.module_utils.clusterset import SET_LABEL, key
from ansible_collections.scalelab.capi.plugins.module_utils.kube import KubeClient, KubeError, dumps
from ansible_collections.scalelab.capi.plugins.module_utils.ratelimit import TokenBucket
from ansible_collections.scalelab.capi.plugins.module_utils.retry import RetryPolicy

_JSON = {"Content-Type": "application/json"}


class Bulk:
    """One client, limiter and retry policy shared by every call of a module run."""

    def __init__(self, client: KubeClient, qps: float, burst: int, concurrency: int, retry_deadline: float):
        self.client = client
        self.limiter = TokenBucket(qps, burst)
        self.concurrency = concurrency
        self.policy = RetryPolicy(deadline=retry_deadline)

    def existing(self, kinds: Iterable[tuple[str, str]], set_name: str) -> set[tuple[str, str, str]]:
        """Keys (kind, namespace, name) of every object of the set, for each (apiVersion, kind)."""
        found: set[tuple[str, str, str]] = set()
        for api_version, kind in kinds:
            path = self.client.path(api_version, kind)
            for page in self.client.list_pages(path, label_selector=f"{SET_LABEL}={set_name}", policy=self.policy):
                for item in page:
                    item.setdefault("kind", kind)
                    found.add(key(item))
        return found

    def create(self, obj: dict, acquire: Callable[[], None], dry_run: bool = False) -> tuple[str, float]:
        md = obj["metadata"]
        path = self.client.path(obj["apiVersion"], obj["kind"], md.get("namespace", ""))
        acquire()
        t0 = time.monotonic()
        resp = self.client.request(
            "POST",
            path,
            policy=self.policy,
            ok=(409,),
            data=dumps(obj),
            headers=_JSON,
            params={"dryRun": "All"} if dry_run else None,
        )
        took = time.monotonic() - t0
        if resp.status_code == 409:
            return "exists", took
        return "created", took

    def delete(self, obj_key: tuple[str, str, str], api_version: str, acquire: Callable[[], None]) -> tuple[str, float]:
        kind, namespace, name = obj_key
        acquire()
        t0 = time.monotonic()
        resp = self.client.request(
            "DELETE",
            self.client.path(api_version, kind, namespace, name),
            policy=self.policy,
            ok=(404,),
            data=dumps({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}),
            headers=_JSON,
        )
        return ("absent" if resp.status_code == 404 else "deleted"), time.monotonic() - t0

    def patch(self, obj_key: tuple[str, str, str], api_version: str, body: dict, acquire) -> tuple[str, float]:
        """JSON merge patch of one object (a None value removes the field)."""
        kind, namespace, name = obj_key
        acquire()
        t0 = time.monotonic()
        self.client.request(
            "PATCH",
            self.client.path(api_version, kind, namespace, name),
            policy=self.policy,
            data=dumps(body),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        return "patched", time.monotonic() - t0

    def run(self, jobs, fn, label, stop_after_failures: int = 0) -> BulkResult:
        return run_all(jobs, fn, label, self.concurrency, self.limiter, (KubeError,), stop_after_failures)

    def wait_gone(self, api_version: str, kind: str, set_name: str, timeout: float) -> list[dict]:
        """Poll the set's objects of a kind until none is left; return what is left at the timeout."""

        def left() -> list[dict]:
            out = []
            path = self.client.path(api_version, kind)
            for page in self.client.list_pages(path, label_selector=f"{SET_LABEL}={set_name}", policy=self.policy):
                out.extend(
                    {
                        "name": i["metadata"]["name"],
                        "namespace": i["metadata"].get("namespace", ""),
                        "finalizers": i["metadata"].get("finalizers", []),
                    }
                    for i in page
                )
            return out

        return wait_until(left, timeout)


def wait_until(left: Callable[[], list], timeout: float, interval: float = 2.0) -> list:
    """Call left() until it returns nothing or timeout passes; return its last answer (what is still pending)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = left()
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(min(interval, max(0.1, deadline - time.monotonic())))


def call_report(result: BulkResult, policy: RetryPolicy) -> dict:
    """Counts, per-call latency percentiles (ms) and achieved rate of a bulk phase."""
    calls = len(result.latencies)
    lat = stats.summary([x * 1000 for x in result.latencies], digits=1)
    return {
        "calls": calls,
        "outcomes": dict(sorted(result.counts.items())),
        "failed": result.failed,
        "failures": result.failures,
        "latency_ms": lat,
        "seconds": round(result.seconds, 3),
        "calls_per_second": round(calls / result.seconds, 1) if result.seconds > 0 else None,
        "retries": dict(sorted(policy.counts.items())),
    }
