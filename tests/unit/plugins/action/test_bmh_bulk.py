from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.action import bmh_bulk

BASE = {"kubeconfig": "/k", "context": "lab", "name": "hosts", "namespace": "metal3", "count": 100}


def waiting(target_count, state="available", timeout=1800.0, report_every=15.0):
    return {
        "kubeconfig": "/k",
        "context": "lab",
        "name": "hosts",
        "provisioning_state": state,
        "count": target_count,
        "timeout": timeout,
        "report_every": report_every,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Nothing to wait for.
        (BASE, None),
        ({**BASE, "wait": None}, None),
        ({**BASE, "wait": {}}, None),
        ({**BASE, "state": "absent", "wait": {"state": "available"}}, None),
        # Available: count minus the provisioned ones (they go on to provisioning).
        ({**BASE, "wait": {"state": "available"}}, waiting(100)),
        ({**BASE, "provisioned": None, "wait": {"state": "available"}}, waiting(100)),
        ({**BASE, "provisioned": 30, "wait": {"state": "available"}}, waiting(70)),
        ({**BASE, "provisioned": 100, "wait": {"state": "available"}}, waiting(0)),
        ({**BASE, "provisioned": 30, "wait": {"timeout": 60}}, waiting(70, timeout=60.0)),  # state defaults
        # Provisioned: the provisioned ones.
        ({**BASE, "provisioned": 30, "wait": {"state": "provisioned"}}, waiting(30, "provisioned")),
        ({**BASE, "wait": {"state": "provisioned"}}, waiting(0, "provisioned")),
        # The new name; the old one (state) stays an alias.
        ({**BASE, "provisioned": 30, "wait": {"provisioning_state": "provisioned"}}, waiting(30, "provisioned")),
        # An explicit count wins, even 0.
        ({**BASE, "provisioned": 30, "wait": {"state": "available", "count": 10}}, waiting(10)),
        ({**BASE, "wait": {"state": "available", "count": 0}}, waiting(0)),
        ({**BASE, "wait": {"state": "available", "count": None}}, waiting(100)),
        # Values from templates arrive as strings.
        (
            {**BASE, "count": "100", "provisioned": "25", "wait": {"timeout": "90", "report_every": "5"}},
            waiting(75, timeout=90.0, report_every=5.0),
        ),
        ({**BASE, "state": "present", "wait": {"state": "provisioned", "count": "7"}}, waiting(7, "provisioned")),
    ],
)
def test_wait_args(args, expected):
    got = bmh_bulk.wait_args(args)
    assert got == expected
    if got is not None:
        # int, not bool; floats, not ints
        assert isinstance(got["count"], int) and not isinstance(got["count"], bool)
        assert isinstance(got["timeout"], float) and isinstance(got["report_every"], float)


@pytest.mark.parametrize(
    ("args", "expected_keys"),
    [
        ({"name": "h", "count": 2, "wait": {"state": "available"}}, ["name"]),
        ({"count": 2, "wait": {"state": "available"}}, []),
        ({**BASE, "bmc_password": "secret", "wait": {"state": "available"}}, ["context", "kubeconfig", "name"]),
    ],
)
def test_wait_args_pass_on_only_the_connection_and_set(args, expected_keys):
    got = bmh_bulk.wait_args(args)
    assert sorted(set(got) - {"provisioning_state", "count", "timeout", "report_every"}) == expected_keys
    assert "secret" not in str(got)


CREATED = {"changed": True, "hosts": {"created": 100}}
DONE = {"reached": 70, "total": 100, "states": {"available": 70, "provisioning": 30}, "errors": [], "done": True}


def test_run_creates_then_waits(capsys, scripted_action):
    args = {**BASE, "provisioned": 30, "image": {"url": "u"}, "wait": {"state": "available", "report_every": 0}}
    action = scripted_action(bmh_bulk, args, [CREATED, DONE])
    res = action.run(task_vars={})
    assert [name for name, _dummy in action.calls] == ["scalelab.capi.bmh_bulk", "scalelab.capi.bmh_wait"]
    assert action.calls[0][1] == args
    assert action.calls[1][1] == {**waiting(70, report_every=0.0), "window": 0.0}
    assert res["changed"] is True
    assert res["hosts"] == {"created": 100}
    assert res["wait"]["reached"] == 70 and res["wait"]["done"] is True
    assert sorted(res["wait"]) == ["done", "errors", "reached", "seconds", "states", "total"]
    assert "failed" not in res
    assert capsys.readouterr().out.startswith("[hosts] hosts available 70/70 (found 100; provisioning 30), ")


@pytest.mark.parametrize(
    ("args", "first", "check_mode"),
    [
        ({**BASE, "wait": {"state": "available"}}, {"failed": True, "msg": "bmc_network=x: bad"}, False),
        ({**BASE}, CREATED, False),
        ({**BASE, "state": "absent", "wait": {"state": "available"}}, CREATED, False),
        ({**BASE, "wait": {"state": "available"}}, CREATED, True),
    ],
)
def test_run_without_waiting(args, first, check_mode, scripted_action):
    action = scripted_action(bmh_bulk, args, [first], check_mode=check_mode)
    res = action.run(task_vars={})
    assert len(action.calls) == 1
    assert "wait" not in res
    assert res.get("failed") == first.get("failed")


def test_run_fails_when_the_wait_times_out(scripted_action):
    stuck = {"reached": 3, "total": 5, "states": {"available": 3, "inspecting": 2}, "errors": [], "done": False}
    action = scripted_action(
        bmh_bulk, {**BASE, "count": 5, "wait": {"state": "available", "timeout": 0}}, [CREATED, stuck]
    )
    res = action.run(task_vars={})
    assert res["failed"] is True
    assert res["msg"] == (
        "timeout=0.0s: 3/5 hosts of set hosts available; per state {'available': 3, 'inspecting': 2}; errors: []"
    )
    assert res["changed"] is True  # the hosts were created all the same
    assert res["wait"]["done"] is False


def test_run_fails_when_the_wait_module_fails(scripted_action):
    failed = {"failed": True, "msg": "kubeconfig=/k: connection refused"}
    action = scripted_action(bmh_bulk, {**BASE, "wait": {"state": "available"}}, [CREATED, failed])
    res = action.run(task_vars={})
    assert res["failed"] is True
    assert res["msg"] == "kubeconfig=/k: connection refused"
    assert res["wait"] == dict.fromkeys(("reached", "total", "states", "errors", "seconds", "done"))
