from __future__ import annotations

import pytest
from ansible.errors import AnsibleActionFail
from ansible_collections.scalelab.capi.plugins.action import bmh_wait


@pytest.mark.parametrize(
    ("target", "snap", "count", "elapsed", "reached0", "expected"),
    [
        (
            "available",
            {"reached": 30, "total": 100, "states": {"available": 30, "inspecting": 60, "registering": 10}},
            100,
            120.0,
            0,
            "[hosts] hosts available 30/100 (found 100; inspecting 60, registering 10), 15.0/min, ETA 4.7 min, "
            "120s elapsed",
        ),
        (
            "available",
            {"reached": 100, "total": 100, "states": {"available": 100}},
            100,
            600.0,
            40,
            "[hosts] hosts available 100/100 (found 100), 6.0/min, ETA done, 600s elapsed",
        ),
        (
            "provisioned",
            {"reached": 2, "total": 10, "states": {"available": 8, "provisioned": 2}, "errors": [{"name": "h"}] * 3},
            4,
            30.4,
            2,
            "[hosts] hosts provisioned 2/4 (found 10; available 8), 3+ with errors, 0.0/min, ETA unknown, 30s elapsed",
        ),
        ("available", {}, 5, 0.0, 0, "[hosts] hosts available 0/5 (found 0), 0.0/min, ETA unknown, 0s elapsed"),
        (
            "available",
            {"reached": 0, "total": 3, "states": {"none": 3}, "errors": []},
            3,
            15.0,
            0,
            "[hosts] hosts available 0/3 (found 3; none 3), 0.0/min, ETA unknown, 15s elapsed",
        ),
    ],
)
def test_progress_line(target, snap, count, elapsed, reached0, expected):
    assert bmh_wait.progress_line("hosts", target, snap, count, elapsed, reached0) == expected


ERRORS = [{"name": f"h-{i}", "error": "BMC unreachable"} for i in range(5)]


@pytest.mark.parametrize(
    ("snap", "expected"),
    [
        (
            {"reached": 7, "states": {"available": 7, "inspecting": 3}, "errors": ERRORS},
            "timeout=60.0s: 7/10 hosts of set hosts available; per state {'available': 7, 'inspecting': 3}; "
            f"errors: {ERRORS[:3]}",
        ),
        ({}, "timeout=60.0s: 0/10 hosts of set hosts available; per state {}; errors: []"),
    ],
)
def test_timeout_message(snap, expected):
    assert bmh_wait.timeout_message("hosts", "available", 10, snap, 60.0) == expected


def test_run_waits_and_prints_progress(capsys, scripted_action):
    args = {"kubeconfig": "/k", "name": "lab", "count": 4, "timeout": 600, "report_every": 0}
    snaps = [
        {"reached": 1, "total": 4, "states": {"available": 1, "inspecting": 3}, "errors": [], "done": False},
        {"reached": 4, "total": 4, "states": {"available": 4}, "errors": [], "done": True},
    ]
    res = scripted_action(bmh_wait, args, snaps).run(task_vars={})
    assert res["done"] is True and res["changed"] is False
    assert res["reached"] == 4
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[lab] hosts available 1/4 (found 4; inspecting 3), 0.0/min")
    assert lines[1].startswith("[lab] hosts available 4/4 (found 4), ")
    assert ", ETA done, " in lines[1]


def test_run_fails_at_the_timeout_naming_the_set(scripted_action):
    action = scripted_action(
        bmh_wait, {"name": "lab", "count": 4, "timeout": 0}, [{"reached": 2, "states": {}, "done": False}]
    )
    res = action.run(task_vars={})
    assert res["failed"] is True
    assert res["msg"] == "timeout=0.0s: 2/4 hosts of set lab available; per state {}; errors: []"
    assert action.calls == [("scalelab.capi.bmh_wait", {"name": "lab", "count": 4, "timeout": 0, "window": 0.0})]


def test_run_rejects_unknown_options(scripted_action):
    with pytest.raises(AnsibleActionFail, match="Invalid options for scalelab.capi.bmh_wait: namespace"):
        scripted_action(bmh_wait, {"name": "lab", "count": 1, "namespace": "metal3"}, []).run(task_vars={})


def test_valid_args_are_the_module_options():
    from ansible_collections.scalelab.capi.plugins.modules import bmh_wait as module

    aliases = {a for spec in module.ARGUMENT_SPEC.values() for a in spec.get("aliases", ())}
    assert frozenset(bmh_wait.WAIT_ARGS) == frozenset(module.ARGUMENT_SPEC) | aliases


def test_a_set_nobody_grows_fails_after_stall_timeout(monkeypatch, scripted_action):
    from ansible_collections.scalelab.capi.plugins.plugin_utils import windows

    ticks = iter(range(0, 10_000, 10))
    monkeypatch.setattr(windows, "time", type("Clock", (), {"monotonic": staticmethod(lambda: float(next(ticks)))}))
    args = {"name": "h", "count": 3, "timeout": 600, "report_every": 0, "stall_timeout": 20}
    action = scripted_action(bmh_wait, args, [{"reached": 0, "total": 2, "states": {}, "done": False}] * 40)
    res = action.run(task_vars={})
    assert res["failed"] is True and "count=3: set h has 2 hosts and no new one for 20 s" in res["msg"], res
