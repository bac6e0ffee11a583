# Copyright: scalelab contributors
# Apache-2.0
"""The set engine behind the *_bulk modules: run many API calls concurrently under one rate limiter, record what
each did and how long it took, and create or delete the objects of a labelled set, resumable.

ensure_present/ensure_absent return (changed, state) in the amazon.aws way; check mode is passed down and makes
no write. What exists is read with one paginated list per kind and label selector, never one GET per object.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.checks import bounds
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import (
    KubeClient,
    KubeError,
    connection_cause,
    dumps,
)
from ansible_collections.scalelab.capi.plugins.module_utils.kube.ratelimit import TokenBucket
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import RetryPolicy
from ansible_collections.scalelab.capi.plugins.module_utils.results import stats
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    SET_LABEL,
    SetError,
    key,
    namespace_object,
)
from ansible_collections.scalelab.capi.plugins.module_utils.sets.waiters import wait_until

MAX_FAILURES_KEPT = 20


def rfc3339(t: float) -> str:
    """Wall time as RFC 3339 UTC with microseconds: strings of one format sort like the times."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class BulkResult:
    counts: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, calls: list[tuple[str, float]]) -> None:
        with self._lock:
            for outcome, latency in calls:
                self.counts[outcome] = self.counts.get(outcome, 0) + 1
                self.latencies.append(latency)

    def fail(self, label: str, msg: str) -> None:
        with self._lock:
            self.failed += 1
            if len(self.failures) < MAX_FAILURES_KEPT:
                self.failures.append({"object": label, "error": msg})

    def merge(self, other: BulkResult) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        self.latencies.extend(other.latencies)
        room = MAX_FAILURES_KEPT - len(self.failures)
        self.failures.extend(other.failures[: max(0, room)])
        self.failed += other.failed
        self.seconds += other.seconds


def merged(total: BulkResult | None, res: BulkResult) -> BulkResult:
    """Two bulk phases as one result (counts, latencies, failures and seconds added); total None is none yet."""
    if total is None:
        return res
    total.merge(res)
    return total


def run_all(
    jobs: Iterable[Any],
    fn: Callable[[Any, Callable[[], None]], list[tuple[str, float]]],
    label: Callable[[Any], str],
    concurrency: int,
    limiter: TokenBucket,
    errors: tuple[type[BaseException], ...],
    stop_after_failures: int = 0,
) -> BulkResult:
    """Call fn(job, acquire) for every job on `concurrency` threads.

    A job may make several API calls in order (a cluster's objects); fn calls acquire() before each, so the
    limiter paces calls, not jobs, and returns one (outcome, seconds) per call ("created", "exists", ...).
    It raises one of `errors` to record the job as failed with the message. With stop_after_failures > 0 no
    new job starts once that many failed (a broken template should not be tried N times). Jobs are submitted
    lazily, so a generator of 10k jobs is never held in memory at once.
    """
    result = BulkResult()
    start = time.monotonic()

    def one(job: Any) -> None:
        try:
            calls = fn(job, limiter.acquire)
        except errors as e:
            result.fail(label(job), short_error(e))
            return
        result.record(calls)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pending: set = set()
        for job in jobs:
            if stop_after_failures and result.failed >= stop_after_failures:
                break
            pending.add(pool.submit(one, job))
            if len(pending) >= concurrency * 2:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
        for f in pending:
            f.result()
    result.seconds = time.monotonic() - start
    return result


_JSON = {"Content-Type": "application/json"}


def short_error(e: BaseException) -> str:
    """One object's failure in one line."""
    if isinstance(e, OSError) and not isinstance(e, KubeError):
        return f"cannot reach the API: {connection_cause(e)}"
    return " ".join(str(e).split())


class GoneClock:
    """How long each deleted object took to go: from its DELETE's answer to the first look that found it gone (the
    client's clock at both ends; a look every wait_until interval, so within ~2 s plus a list's time)."""

    def __init__(self):
        self._deleted: dict = {}
        self._gone: dict = {}
        self._lock = threading.Lock()

    def deleted(self, key, at: float) -> None:
        with self._lock:
            self._deleted[key] = at

    def look(self, present: set, at: float) -> None:
        for k in self._deleted:
            if k not in present and k not in self._gone:
                self._gone[k] = at

    def summary(self) -> dict:
        """objects deleted, gone, seconds (percentiles), drift (first 10% deleted vs last), wall_seconds, and timed:
        each object's namespace, name, deleted and gone (RFC 3339; gone None while there) in deletion order - what
        scale_results' delete phase times per object."""
        if not self._deleted:
            return {"objects": 0}
        order = sorted(self._deleted, key=lambda k: (self._deleted[k], str(k)))  # deletion order, ties by key
        took = [self._gone[k] - self._deleted[k] for k in order if k in self._gone]
        last = max(self._gone.values(), default=None)
        return {
            "objects": len(order),
            "gone": len(took),
            "seconds": stats.summary(took),
            "drift": stats.drift(took),
            "wall_seconds": None if last is None else round(last - self._deleted[order[0]], 3),
            "timed": [
                {
                    "namespace": k[-2],
                    "name": k[-1],
                    "deleted": rfc3339(self._deleted[k]),
                    "gone": rfc3339(self._gone[k]) if k in self._gone else None,
                }
                for k in order
            ],
        }


class Bulk:
    """One client, limiter and retry policy shared by every call of a module run."""

    def __init__(self, client: KubeClient, qps: float, burst: int, concurrency: int, retry_deadline: float):
        self.client = client
        self.limiter = TokenBucket(qps, burst)
        self.concurrency = concurrency
        # Retries take tokens too: a flapping API is not hammered past the pace the user chose.
        self.policy = RetryPolicy(deadline=retry_deadline, acquire=self.limiter.acquire)
        self._first_write: float | None = None
        self._lock = threading.Lock()

    def wrote(self, since: float) -> None:
        """Record a write that began at wall time `since`: the earliest is the run's start (first_write)."""
        with self._lock:
            if self._first_write is None or since < self._first_write:
                self._first_write = since

    def first_write(self) -> str:
        """When this module run's first write began (RFC 3339, microseconds, UTC); empty when it wrote nothing."""
        return rfc3339(self._first_write) if self._first_write is not None else ""

    def listed(self, api_version: str, kind: str, set_name: str) -> Iterator[dict]:
        """The set's objects of one kind, read with one paginated list."""
        path = self.client.path(api_version, kind)
        for page in self.client.list_pages(path, label_selector=f"{SET_LABEL}={set_name}", policy=self.policy):
            yield from page

    def existing(self, kinds: Iterable[tuple[str, str]], set_name: str) -> set[tuple[str, str, str]]:
        """Keys (kind, namespace, name) of every object of the set, for each (apiVersion, kind)."""
        found: set[tuple[str, str, str]] = set()
        for api_version, kind in kinds:
            for item in self.listed(api_version, kind, set_name):
                item.setdefault("kind", kind)
                found.add(key(item))
        return found

    def _call(self, method: str, path: str, acquire: Callable[[], None], **kw) -> tuple[Any, float]:
        """One call paced by the limiter (acquire), under the run's retry policy: (response, seconds it took)."""
        acquire()
        began, t0 = time.time(), time.monotonic()
        resp = self.client.request(method, path, policy=self.policy, **kw)
        # A dry run or a 404/409 wrote nothing; anything else is a change of the set, and its run began then.
        if resp.status_code < 300 and not (kw.get("params") or {}).get("dryRun"):
            self.wrote(began)
        return resp, time.monotonic() - t0

    def create(self, obj: dict, acquire: Callable[[], None], dry_run: bool = False) -> tuple[str, float]:
        """POST one object: "created", or "exists" when a 409 names an object of the same set (a re-run, or a
        create whose response was lost after the server committed it); a 409 for anyone else's object fails."""
        md = obj["metadata"]
        path = self.client.path(obj["apiVersion"], obj["kind"], md.get("namespace", ""))
        params = {"dryRun": "All"} if dry_run else None
        resp, took = self._call("POST", path, acquire, ok=(409,), data=dumps(obj), headers=_JSON, params=params)
        if resp.status_code != 409:
            return "created", took
        wanted = (md.get("labels") or {}).get(SET_LABEL)
        if wanted is not None:
            acquire()
            found = self.client.request("GET", f"{path}/{md['name']}", policy=self.policy, ok=(404,))
            theirs = ((found.json().get("metadata") or {}).get("labels") or {}).get(SET_LABEL) if found.ok else None
            if theirs != wanted:
                where = f"{md['namespace']}/{md['name']}" if md.get("namespace") else md["name"]
                raise KubeError(
                    f"{obj['kind']} {where} exists and is not of set {wanted} (its {SET_LABEL}: {theirs or 'none'}): "
                    "delete it, or choose another set name or namespace",
                    409,
                )
        return "exists", took

    def delete(self, obj_key: tuple[str, str, str], api_version: str, acquire: Callable[[], None]) -> tuple[str, float]:
        kind, namespace, name = obj_key
        path = self.client.path(api_version, kind, namespace, name)
        body = dumps({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
        resp, took = self._call("DELETE", path, acquire, ok=(404,), data=body, headers=_JSON)
        return ("absent" if resp.status_code == 404 else "deleted"), took

    def patch(self, obj_key: tuple[str, str, str], api_version: str, body: dict, acquire) -> tuple[str, float]:
        """JSON merge patch of one object (a None value removes the field)."""
        kind, namespace, name = obj_key
        path = self.client.path(api_version, kind, namespace, name)
        headers = {"Content-Type": "application/merge-patch+json"}
        return "patched", self._call("PATCH", path, acquire, data=dumps(body), headers=headers)[1]

    def run(self, jobs, fn, label, stop_after_failures: int = 0) -> BulkResult:
        # OSError: requests' connection errors, once retry_timeout is spent - recorded like a refusal, so the run
        # ends with what it wrote so far.
        return run_all(jobs, fn, label, self.concurrency, self.limiter, (KubeError, OSError), stop_after_failures)

    def batches(self, jobs: list, fn, label, size: int, pause: float) -> BulkResult:
        """run() over `size` jobs at a time (0: all at once), `pause` seconds between batches; stops at a failed one."""
        size = size or len(jobs) or 1
        total = BulkResult()
        start = time.monotonic()
        for b in range(0, len(jobs), size):
            if b and pause:
                time.sleep(pause)
            res = self.run(jobs[b : b + size], fn, label, 5)
            total.merge(res)
            if res.failed:
                break
        total.seconds = time.monotonic() - start
        return total

    def in_flight(self, api_version: str, kind: str, set_name: str, times):
        """paced()'s look at a set: (members not ready, [(creation, seconds to ready)] of the ready ones), with
        times(obj) -> (creation, seconds to ready or None) as the results count them."""

        def probe() -> tuple[int, list[tuple[float, float]]]:
            waiting, ready = 0, []
            for obj in self.listed(api_version, kind, set_name):
                created, seconds = times(obj)
                if seconds is None:
                    waiting += 1
                elif created is not None:
                    ready.append((created, seconds))
            return waiting, ready

        return probe

    def paced(self, jobs: list, fn, label, probe, pacer, interval: float, progress=None) -> BulkResult:
        """run() in steps that keep fewer objects in flight than the pacer's window: every `interval` seconds
        probe() -> (in flight, [(creation time, seconds to ready)] of objects ready since the last probe); stops at
        a failed step. progress(created, in_flight, window) is told after each probe."""
        total = BulkResult()
        start = time.monotonic()
        i = 0
        while i < len(jobs):
            in_flight, done = probe()
            room = pacer.update(time.time(), in_flight, done) - in_flight
            if progress is not None:
                progress(i, in_flight, pacer.window)
            if room > 0:
                res = self.run(jobs[i : i + room], fn, label, 5)
                total.merge(res)
                i += room
                if res.failed:
                    break
            if i < len(jobs):
                time.sleep(interval)
        total.seconds = time.monotonic() - start
        return total

    def ensure_namespace(self, namespace: str, set_name: str, labels: dict) -> None:
        """A shared namespace, created (labelled as the set's, so absent removes it) only when missing."""
        resp = self.client.request("GET", f"/api/v1/namespaces/{namespace}", policy=self.policy, ok=(404,))
        if resp.status_code == 404:
            obj = namespace_object(namespace, set_name, None, labels)
            try:
                self.create(obj, self.limiter.acquire)
            except KubeError as e:
                if e.status != 409:  # another run made it meanwhile: shared, as intended
                    raise

    def delete_set(self, set_name: str, kinds, timeout: float, check: bool, state: dict, counted: tuple) -> bool:
        """Delete the set's objects kind by kind, in the order given, each kind gone before the next.

        state["objects"] and state["calls"] are kept; counted = (kind, counts dict, hint): the counts' existing_before
        and deleted follow that kind, and when objects of it are left the hint (a function of the first one left, giving
        a string) ends the message. Returns whether any existed.
        """
        counted_kind, counts, hint = counted
        total = None
        changed = False
        for api_version, kind in kinds:
            found = sorted(self.existing([(api_version, kind)], set_name))
            if kind == "Namespace":
                found = self._unshared(found, set_name, state)
            if kind == counted_kind:
                counts["existing_before"] = len(found)
            if not found:
                continue
            changed = True
            if check:
                state["objects"] += len(found)
                continue
            clock = GoneClock() if kind == counted_kind else None

            def delete(k, acquire, av=api_version, clock=clock):
                outcome = self.delete(k, av, acquire)
                if clock is not None and outcome[0] == "deleted":
                    clock.deleted(k, time.time())
                return [outcome]

            res = self.run(found, delete, lambda k: f"{k[0]} {k[1]}/{k[2]}")
            state["objects"] += res.counts.get("deleted", 0)
            if kind == counted_kind:
                counts["deleted"] = res.counts.get("deleted", 0)
            total = merged(total, res)
            left = self.wait_gone(api_version, kind, set_name, timeout, clock)
            if clock is not None:
                state["deletion"] = clock.summary()
            if res.failed or left:
                state["calls"] = call_report(total, self.policy)
                msg = f"set {set_name}: {len(left)} {kind}(s) still there after delete_timeout={timeout:g}s"
                if left:
                    first = left[0]
                    tail = hint(first) if kind == counted_kind else ""
                    msg += f" (first: {first['namespace']}/{first['name']} finalizers {first['finalizers']}"
                    msg += f"; deleting: {first['waiting_for']}{tail})" if first["waiting_for"] else f"{tail})"
                if res.failed:
                    msg += f"; {res.failed} delete call(s) failed: {res.failures[0]['error']}"
                raise BulkFailed(msg, {"changed": True, **state, "left": left[:20]})
        if total is not None:
            state["calls"] = call_report(total, self.policy)
        return changed

    # What lives in a namespace and keeps it: the top-level kinds the lab makes (a set's own are gone by then).
    OCCUPANTS = (("cluster.x-k8s.io", "clusters", "Cluster"), ("metal3.io", "baremetalhosts", "BareMetalHost"))

    def _unshared(self, namespaces: list, set_name: str, state: dict) -> list:
        """The set's namespaces that hold nothing else; the others stay, listed in state["namespaces_kept"]."""
        free, kept = [], []
        served = []
        for group, plural, kind in self.OCCUPANTS if namespaces else ():
            versions = self.client.served_versions(group)  # preferred first; [] when the API has no such kind
            if versions:
                served.append((f"{group}/{versions[0]}", plural, kind))
        for ns_key in namespaces:
            ns = ns_key[2]
            others = []
            for version, plural, kind in served:
                self.limiter.acquire()
                items = self.client.request(
                    "GET", f"/apis/{version}/namespaces/{ns}/{plural}", policy=self.policy, params={"limit": "5"}
                ).json()["items"]
                for item in items:
                    theirs = ((item["metadata"].get("labels") or {}).get(SET_LABEL)) or "no set"
                    others.append(f"{kind} {item['metadata']['name']} ({theirs})")
            if others:
                kept.append({"name": ns, "because": others[:5]})
            else:
                free.append(ns_key)
        if kept:
            state["namespaces_kept"] = kept
        return free

    def wait_gone(self, api_version: str, kind: str, set_name: str, timeout: float, clock=None) -> list[dict]:
        """Poll the set's objects of a kind until none is left; return what is left at the timeout. A GoneClock is
        told what each look found."""

        def left() -> list[dict]:
            items = [
                {
                    "name": i["metadata"]["name"],
                    "namespace": i["metadata"].get("namespace", ""),
                    "finalizers": i["metadata"].get("finalizers", []),
                    "waiting_for": waiting_for(i),
                }
                for i in self.listed(api_version, kind, set_name)
            ]
            if clock is not None:
                clock.look({(kind, i["namespace"], i["name"]) for i in items}, time.time())
            return items

        return wait_until(left, timeout)


def waiting_for(obj: dict) -> str:
    """What an object being deleted waits for, as its controller says: Cluster API v1beta2's Deleting condition
    (e.g. the Machines not yet gone), a BareMetalHost's provisioning state; "" when it says nothing."""
    status = obj.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Deleting" and cond.get("status") == "True":
            said = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
            return " ".join(said.split())[:300]
    state = (status.get("provisioning") or {}).get("state")
    return f"provisioning state {state}" if state else ""


class BulkFailed(ScalelabError):
    """Some objects could not be written; carries the partial result (its `result`) so the user sees what happened."""


def check_pacing(p: dict) -> None:
    """The pacing options every *_bulk module shares, refused before anything is written."""
    at_least = {"concurrency": 1, "burst": 1, "qps": 0, "batch_pause": 0, "batch_size": 0}
    bad = bounds(p, {**at_least, "pacing_window": 1, "pacing_interval": 0.5})
    if not bad and p.get("pacing") == "adaptive" and (p["batch_size"] or p["batch_pause"]):
        bad = (
            f"batch_size={p['batch_size']}, batch_pause={p['batch_pause']}: pacing=adaptive sets its own pace; "
            "leave batch_size and batch_pause at 0"
        )
    if bad:
        raise SetError(bad)


@contextmanager
def connected(p: dict, probe: Callable[[KubeClient], Any]):
    """(bulk, probe(client)) for a module run; an unreachable API is a SetError naming the kubeconfig."""
    with KubeClient(p["kubeconfig"], p["context"], pool=p["concurrency"], retry_deadline=p["retry_timeout"]) as client:
        try:
            probed = probe(client)
        except KubeError as e:
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach the API: {e}") from e
        except OSError as e:  # requests' connection errors are OSErrors
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach {client.server}: {connection_cause(e)}") from e
        try:
            yield Bulk(client, p["qps"], p["burst"], p["concurrency"], p["retry_timeout"]), probed
        except OSError as e:  # the API went away mid-run (a list or wait), past retry_timeout
            raise SetError(f"kubeconfig={p['kubeconfig']}: cannot reach {client.server}: {connection_cause(e)}") from e


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
