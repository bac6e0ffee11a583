from __future__ import annotations

import sys

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import host_timeline, timeline
from ansible_collections.scalelab.capi.plugins.module_utils.results.host_timeline import HostAccumulator, HostTimeline

T0 = "2026-11-23T20:50:00Z"
EPOCH0 = 1795467000.0  # T0


def at(seconds: float) -> str:
    return timeline.format_time(EPOCH0 + seconds)


def bmh(
    name: str = "h-0001",
    created: float | None = 0,
    state: str | None = "available",
    history: dict | None = None,
    namespace: str = "metal3",
    **status,
) -> dict:
    """A BareMetalHost as BMO writes it; history maps operation -> (start, end) seconds after T0, None unset."""
    ops = {}
    for op, (start, end) in (history or {}).items():
        ops[op] = {"start": at(start) if start is not None else None, "end": at(end) if end is not None else None}
    md = {"name": name, "namespace": namespace}
    if created is not None:
        md["creationTimestamp"] = at(created)
    st = {"operationalStatus": "OK", "operationHistory": ops, **status}
    if state is not None:
        st["provisioning"] = {"state": state, "ID": "b7e8"}
    return {"apiVersion": "metal3.io/v1alpha1", "kind": "BareMetalHost", "metadata": md, "status": st}


# register 2..5 s, inspect 5..40 s after creation at T0.
INSPECTED = {"register": (2, 5), "inspect": (5, 40)}
PROVISIONED = {**INSPECTED, "provision": (60, 150)}


def timeline_of(**fields) -> HostTimeline:
    """The HostTimeline expected of bmh() given fields; the rest as bmh() leaves them: h-0001 in metal3, created at
    T0, not provisioned, no error."""
    bmh_defaults = {"name": "h-0001", "namespace": "metal3", "created": EPOCH0}
    unprovisioned = {"provision_seconds": None, "provisioned_at": None, "error": None}
    return HostTimeline(**{**bmh_defaults, **unprovisioned, **fields})


@pytest.mark.parametrize(
    ("o", "expected"),
    [
        (
            bmh(state="available", history=INSPECTED),
            timeline_of(
                state="available",
                available_at=EPOCH0 + 40,
                seconds_to_available=40.0,
                phases=(("register", 3.0), ("inspect", 35.0)),
            ),
        ),
        (
            bmh(
                created=10,
                state="provisioned",
                history={"register": (12, 13), "inspect": (13, 50), "provision": (80, 200)},
            ),
            timeline_of(
                created=EPOCH0 + 10,
                state="provisioned",
                available_at=EPOCH0 + 50,
                seconds_to_available=40.0,
                provision_seconds=120.0,
                provisioned_at=EPOCH0 + 200,
                phases=(("register", 1.0), ("inspect", 37.0), ("provision", 120.0)),
            ),
        ),
        (
            # Inspection disabled: available when registration ended.
            bmh(state="available", history={"register": (1, 4), "inspect": (None, None)}),
            timeline_of(
                state="available", available_at=EPOCH0 + 4, seconds_to_available=4.0, phases=(("register", 3.0),)
            ),
        ),
    ],
)
def test_host_timeline(o, expected):
    assert host_timeline.host_timeline(o) == expected


@pytest.mark.parametrize(
    ("state", "history", "available_after", "provision_seconds"),
    [
        # Past available: the end of inspection counts, else the end of registration.
        ("available", INSPECTED, 40.0, None),
        ("ready", INSPECTED, 40.0, None),  # BMO < 0.5 calls available "ready"
        ("provisioning", {**INSPECTED, "provision": (60, None)}, 40.0, None),
        ("provisioned", PROVISIONED, 40.0, 90.0),
        ("deprovisioning", {**PROVISIONED, "deprovision": (200, None)}, 40.0, None),
        ("available", {"register": (1, 3)}, 3.0, None),
        ("available", {"register": (1, 3), "inspect": (3, None)}, 3.0, None),
        ("available", {}, None, None),  # no history: no time to report
        # Not yet available: no time, even with an ended registration.
        ("registering", {"register": (1, None)}, None, None),
        ("inspecting", {"register": (1, 3), "inspect": (3, None)}, None, None),
        ("preparing", INSPECTED, None, None),
        ("match profile", INSPECTED, None, None),
        ("externally provisioned", INSPECTED, None, None),
        ("none", INSPECTED, None, None),
        (None, INSPECTED, None, None),
        ("", INSPECTED, None, None),
        # Provision time only for provisioned hosts with a finished provision operation.
        ("provisioned", {**INSPECTED, "provision": (60, None)}, 40.0, None),
        ("provisioned", {**INSPECTED, "provision": (None, 150)}, 40.0, None),
        ("provisioned", {**INSPECTED, "provision": (150, 60)}, 40.0, None),  # end before start: ignored
        ("provisioned", {**INSPECTED, "provision": (60, 60)}, 40.0, 0.0),
    ],
)
def test_host_timeline_available_and_provision(state, history, available_after, provision_seconds):
    t = host_timeline.host_timeline(bmh(created=0, state=state, history=history))
    assert t.seconds_to_available == available_after
    assert t.available_at == (EPOCH0 + available_after if available_after is not None else None)
    assert t.provision_seconds == provision_seconds


def test_host_timeline_phases_keep_operation_order_and_finished_only():
    history = {
        "deprovision": (300, 330),
        "provision": (100, 160),
        "inspect": (10, None),  # running: not a phase
        "register": (1, None),
    }
    t = host_timeline.host_timeline(bmh(state="deprovisioning", history=history))
    assert t.phases == (("provision", 60.0), ("deprovision", 30.0))
    assert t.available_at is None  # neither inspection nor registration ended


def test_host_timeline_without_creation_time():
    t = host_timeline.host_timeline(bmh(created=None, history=INSPECTED))
    assert (t.created, t.available_at, t.seconds_to_available) == (None, EPOCH0 + 40, None)


@pytest.mark.parametrize(
    ("state", "status", "error"),
    [
        ("available", {}, None),
        ("ready", {}, None),
        ("provisioned", {}, None),
        ("externally provisioned", {}, None),
        (
            "inspecting",
            {},
            {"state": "inspecting", "error_type": "", "message": "", "operational_status": "OK"},
        ),
        (
            "provisioning",
            {},
            {"state": "provisioning", "error_type": "", "message": "", "operational_status": "OK"},
        ),
        (None, {}, {"state": "none", "error_type": "", "message": "", "operational_status": "OK"}),
        (
            # Settled but with an error message: reported.
            "available",
            {"errorType": "power management error", "errorMessage": "BMC unreachable", "operationalStatus": "error"},
            {
                "state": "available",
                "error_type": "power management error",
                "message": "BMC unreachable",
                "operational_status": "error",
            },
        ),
        (
            "registering",
            {"errorType": "registration error", "errorMessage": "x" * 300, "operationalStatus": "error"},
            {
                "state": "registering",
                "error_type": "registration error",
                "message": "x" * 200,
                "operational_status": "error",
            },
        ),
        (
            "provisioned",
            {"errorMessage": "", "errorType": "provisioning error"},
            None,  # an empty message on a settled host is no error
        ),
    ],
)
def test_host_timeline_error(state, status, error):
    assert host_timeline.host_timeline(bmh(state=state, history=INSPECTED, **status)).error == error


def test_host_timeline_of_a_bare_object():
    t = host_timeline.host_timeline({})
    assert t == HostTimeline(
        name="",
        namespace="",
        created=None,
        state="none",
        available_at=None,
        seconds_to_available=None,
        provision_seconds=None,
        provisioned_at=None,
        phases=(),
        error={"state": "none", "error_type": "", "message": "", "operational_status": ""},
    )


def test_host_timeline_interns_state_and_namespace():
    t = host_timeline.host_timeline(bmh(state="".join(["avail", "able"]), namespace="".join(["met", "al3"])))
    assert t.state is sys.intern("available")
    assert t.namespace is sys.intern("metal3")


def _host(i: int, to_available: float | None, provision: float | None = None, state: str | None = None) -> dict:
    """Host i created at i s; available `to_available` s later; provisioned in `provision` s after that."""
    history = {"register": (i + 1, i + 2)}
    if to_available is not None:
        history["inspect"] = (i + 2, i + to_available)
    if provision is not None:
        start = i + to_available + 10
        history["provision"] = (start, start + provision)
    if state is None:
        state = "provisioned" if provision is not None else ("available" if to_available is not None else "inspecting")
    return bmh(name=f"h-{i:04d}", created=i, state=state, history=history)


def test_accumulator_result():
    acc = HostAccumulator()
    hosts = [_host(i, 20 + i, 100 + 2 * i if i < 5 else None) for i in range(20)]
    hosts.append(_host(30, None))  # still inspecting
    hosts.append(_host(31, None, state="registering"))
    hosts.append(bmh(name="broken", created=25, state="available", history=INSPECTED, errorMessage="BMC gone"))
    for h in reversed(hosts):
        assert isinstance(acc.add(h), HostTimeline)
    r = acc.result()
    assert r["count"] == 23
    assert r["states"] == {"available": 16, "inspecting": 1, "provisioned": 5, "registering": 1}
    assert list(r["states"]) == sorted(r["states"])
    assert r["available"] == 21  # 20 + the one with an error (available at T0+40, created at 25: 15 s)
    assert r["provisioned"] == 5
    assert r["time_to_available"] == {"count": 21, "mean": 28.81, "p50": 29.0, "p90": 37.0, "p99": 38.8, "max": 39.0}
    # In creation order: 20..39 s for h-0000..h-0019, then 15 s for "broken" (created at 25).
    assert r["drift"] == {"count": 21, "window": 2, "first_mean": 20.5, "last_mean": 27.0, "drift_pct": 31.71}
    assert r["provision"] == {"count": 5, "mean": 104.0, "p50": 104.0, "p90": 107.2, "p99": 107.92, "max": 108.0}
    assert r["provision_drift"] == {"count": 5, "window": 1, "first_mean": 100.0, "last_mean": 108.0, "drift_pct": 8.0}
    assert r["phases"]["register"]["count"] == 23
    assert r["phases"]["inspect"]["count"] == 21
    assert r["phases"]["provision"] == r["provision"]
    assert "deprovision" not in r["phases"]
    assert list(r["phases"]) == ["register", "inspect", "provision"]
    assert r["stuck"] == 3
    assert r["stuck_objects"] == [
        {
            "name": "broken",
            "namespace": "metal3",
            "state": "available",
            "error_type": "",
            "message": "BMC gone",
            "operational_status": "OK",
        },
        {
            "name": "h-0030",
            "namespace": "metal3",
            "state": "inspecting",
            "error_type": "",
            "message": "",
            "operational_status": "OK",
        },
        {
            "name": "h-0031",
            "namespace": "metal3",
            "state": "registering",
            "error_type": "",
            "message": "",
            "operational_status": "OK",
        },
    ]
    assert r["first_created"] == T0
    assert r["last_available"] == at(19 + 39)
    assert r["span_seconds"] == 58.0


def test_accumulator_top_failures_in_creation_order():
    acc = HostAccumulator()
    for i in (4, 2, 0, 3, 1):
        acc.add(_host(i, None))
    r = acc.result(top_failures=2)
    assert r["stuck"] == 5
    assert [o["name"] for o in r["stuck_objects"]] == ["h-0000", "h-0001"]
    assert r["available"] == 0
    assert r["time_to_available"]["p50"] is None
    assert r["last_available"] is None
    assert r["span_seconds"] is None
    assert r["first_created"] == T0


def test_accumulator_same_creation_time_orders_by_name_and_unknown_creation_last():
    acc = HostAccumulator()
    acc.add(bmh(name="b", created=0, history={"register": (0, 1), "inspect": (1, 20)}))
    acc.add(bmh(name="c", created=None, history={"register": (0, 1), "inspect": (1, 50)}))
    acc.add(bmh(name="a", created=0, history={"register": (0, 1), "inspect": (1, 10)}))
    r = acc.result()
    # "c" has no creation time: no time to available, but it sorts last and counts in states.
    assert r["count"] == 3
    assert r["available"] == 2
    assert r["drift"]["first_mean"] == 10.0
    assert r["drift"]["last_mean"] == 20.0
    assert r["last_available"] == at(20)
    # Per-host series for plots, in creation order: "a" and "b" at 0 s, "c" (no creation time) last.
    assert r["series"] == {
        "t0": EPOCH0,
        "created": [0.0, 0.0, None],
        "available": [10.0, 20.0, None],
        "provisioned": [None] * 3,
        "provision": [None] * 3,
    }


def test_accumulator_empty():
    assert HostAccumulator().result() == {
        "count": 0,
        "states": {},
        "available": 0,
        "provisioned": 0,
        "time_to_available": {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None},
        "drift": {"count": 0, "window": 0, "first_mean": None, "last_mean": None, "drift_pct": None},
        "provision": {"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None},
        "provision_drift": {"count": 0, "window": 0, "first_mean": None, "last_mean": None, "drift_pct": None},
        "phases": {},
        "stuck": 0,
        "stuck_objects": [],
        "first_created": None,
        "last_available": None,
        "span_seconds": None,
        "series": {"t0": None, "created": [], "available": [], "provisioned": [], "provision": []},
    }


def test_accumulator_keeps_no_object_json():
    acc = HostAccumulator()
    acc.add(bmh(history=INSPECTED))
    assert acc.kind == "BareMetalHost"
    assert all(isinstance(r, HostTimeline) for r in acc.records)


def test_series_hold_provisioning_end_from_the_first_creation():
    acc = HostAccumulator()
    acc.add(
        bmh(
            name="p",
            created=10,
            state="provisioned",
            history={"register": (12, 13), "inspect": (13, 50), "provision": (80, 200)},
        )
    )
    acc.add(bmh(name="q", created=0, state="available", history={"register": (0, 1), "inspect": (1, 30)}))
    s = acc.result()["series"]
    assert s == {
        "t0": EPOCH0,
        "created": [0.0, 10.0],
        "available": [30.0, 40.0],
        "provisioned": [None, 200.0],
        "provision": [None, 120.0],
    }
