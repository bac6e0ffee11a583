"""supervisor_apply against a real supervisord (conftest.supervisor): what it adds, restarts and removes."""

from __future__ import annotations

import os
import subprocess
import time

import pytest


def status(sv) -> dict[str, tuple[str, str]]:
    """program -> (state, pid)"""
    out = subprocess.run([sv["ctl"], "-c", sv["conf"], "status"], capture_output=True, text=True, check=False).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return {r[0]: (r[1], r[3].rstrip(",") if len(r) > 3 and r[2] == "pid" else "") for r in rows}


def program(sv, name: str, command: str = "sleep 120", extra: str = "startsecs=0") -> None:
    with open(os.path.join(sv["confd"], f"{name}.conf"), "w") as f:
        f.write(f"[program:{name}]\ncommand={command}\n{extra}\n")


def wait_running(sv, name: str) -> str:
    for _dummy in range(100):
        state, pid = status(sv).get(name, ("", ""))
        if state == "RUNNING":
            return pid
        time.sleep(0.1)
    raise AssertionError(status(sv))


# (what the files become, added, changed, removed)
EDITS = [
    ("nothing", [], [], []),
    ("add", ["new"], [], []),
    ("edit", [], ["up"], []),
    ("remove", [], [], ["up"]),
    ("all", ["new"], ["down"], ["up"]),
]


@pytest.mark.parametrize(("edit", "added", "changed", "removed"), EDITS)
def test_applies_exactly_what_the_files_changed(run_module, supervisor, edit, added, changed, removed):
    sv = {"ctl": supervisor["ctl"], "conf": supervisor["conf"]}
    before = wait_running(supervisor, "up")
    if edit in ("add", "all"):
        program(supervisor, "new")
    if edit == "edit":
        program(supervisor, "up", "sleep 121")
    if edit == "all":
        program(supervisor, "down", "sleep 122", "autostart=false")
    if edit in ("remove", "all"):
        os.remove(os.path.join(supervisor["confd"], "up.conf"))
    dry = run_module("supervisor_apply", check=True, **sv)
    assert (dry["changed"], dry["added"], dry["changed_programs"], dry["removed"]) == (
        bool(added or changed or removed),
        added,
        changed,
        removed,
    ), dry
    assert wait_running(supervisor, "up") == before and "new" not in status(supervisor)  # check mode applied nothing
    res = run_module("supervisor_apply", **sv)
    assert (res["added"], res["changed_programs"], res["removed"]) == (added, changed, removed), res
    now = status(supervisor)
    if "new" in added:
        wait_running(supervisor, "new")
    if "up" in changed:
        assert wait_running(supervisor, "up") != before
    if "up" in removed:
        assert "up" not in now, now
    if "down" in changed:
        assert now["down"][0] == "STOPPED", now  # autostart=false: restarted means re-added, not started
    if not (added or changed or removed):
        assert now["up"] == ("RUNNING", before)
    assert run_module("supervisor_apply", **sv)["changed"] is False  # idempotent


def test_removed_programs_are_all_stopped_before_any_has_exited(run_module, supervisor, tmp_path):
    # Each takes a second to exit after TERM; each logs when TERM came and when it exited.
    log, script = tmp_path / "events", tmp_path / "slow.sh"
    script.write_text(
        f"trap 'echo term $(date +%s.%N) >> {log}; sleep 1; echo exit $(date +%s.%N) >> {log}; exit 0' TERM\n"
        "while :; do sleep 0.1; done\n"
    )
    for name in ("slow1", "slow2", "slow3"):
        program(supervisor, name, f"sh {script}")
    sv = {"ctl": supervisor["ctl"], "conf": supervisor["conf"]}
    assert run_module("supervisor_apply", **sv)["added"] == ["slow1", "slow2", "slow3"]
    for name in ("slow1", "slow2", "slow3"):
        wait_running(supervisor, name)
        os.remove(os.path.join(supervisor["confd"], f"{name}.conf"))
    res = run_module("supervisor_apply", **sv)
    assert res["removed"] == ["slow1", "slow2", "slow3"], res
    events = [line.split() for line in log.read_text().splitlines()]
    terms = [float(t) for kind, t in events if kind == "term"]
    exits = [float(t) for kind, t in events if kind == "exit"]
    assert len(terms) == len(exits) == 3, events
    assert max(terms) < min(exits), events  # supervisorctl update would stop them one after the other


def test_a_program_that_outlives_the_timeout_fails_naming_it(run_module, supervisor):
    program(
        supervisor, "stubborn", "sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'", "startsecs=0\nstopwaitsecs=30"
    )
    sv = {"ctl": supervisor["ctl"], "conf": supervisor["conf"]}
    run_module("supervisor_apply", **sv)
    wait_running(supervisor, "stubborn")
    os.remove(os.path.join(supervisor["confd"], "stubborn.conf"))
    res = run_module("supervisor_apply", timeout=1, **sv)
    assert res.get("failed") and "stubborn" in res["msg"] and supervisor["conf"] in res["msg"], res


@pytest.mark.parametrize("missing_ok", [True, False])
def test_a_supervisord_that_does_not_run(run_module, supervisor, missing_ok):
    subprocess.run([supervisor["ctl"], "-c", supervisor["conf"], "shutdown"], capture_output=True, check=False)
    res = run_module("supervisor_apply", ctl=supervisor["ctl"], conf=supervisor["conf"], missing_ok=missing_ok)
    if missing_ok:
        assert res["changed"] is False and res["running"] is False, res
    else:
        assert res.get("failed") and f"conf={supervisor['conf']}" in res["msg"], res
    # a lab whose virtualenv is gone too
    gone = run_module(
        "supervisor_apply", ctl="/nonexistent/bin/supervisorctl", conf="/nonexistent/s.conf", missing_ok=missing_ok
    )
    assert (gone.get("failed"), gone.get("running")) == ((None, False) if missing_ok else (True, None)), gone


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"timeout": 0}, "timeout=0 must be > 0"),
        ({"ctl": "/nonexistent/bin/supervisorctl"}, "ctl=/nonexistent/bin/supervisorctl: no executable python"),
    ],
)
def test_bad_input_is_refused_naming_it(run_module, supervisor, args, msg):
    res = run_module("supervisor_apply", **({"ctl": supervisor["ctl"], "conf": supervisor["conf"]} | args))
    assert res.get("failed") and res["msg"].startswith(msg), res


def test_restart_stops_all_at_once_then_starts_them_in_order(run_module, supervisor, tmp_path):
    # A handler's restart (a changed certificate): each program takes a second to exit after TERM and logs when it
    # got TERM, exited and started; all are stopped together, then started in the order given.
    log, script = tmp_path / "events", tmp_path / "slow.sh"
    script.write_text(
        f'echo start "$1" $(date +%s.%N) >> {log}\n'
        f"trap 'echo term $(date +%s.%N) >> {log}; sleep 1; echo exit $(date +%s.%N) >> {log}; exit 0' TERM\n"
        "while :; do sleep 0.1; done\n"
    )
    for name in ("r1", "r2", "r3"):
        # started = running for a second (the lab's programs: 3), so each has logged its start before the next
        program(supervisor, name, f"sh {script} {name}", "startsecs=1")
    sv = {"ctl": supervisor["ctl"], "conf": supervisor["conf"]}
    run_module("supervisor_apply", **sv)
    before = {name: wait_running(supervisor, name) for name in ("r1", "r2", "r3")}
    log.write_text("")
    dry = run_module("supervisor_apply", check=True, restart=["r3", "r1", "r2"], **sv)
    assert dry["changed"] is True and dry["restarted"] == ["r3", "r1", "r2"], dry
    assert {name: wait_running(supervisor, name) for name in before} == before and log.read_text() == ""
    res = run_module("supervisor_apply", restart=["r3", "r1", "r2"], **sv)
    assert res["changed"] is True and res["restarted"] == ["r3", "r1", "r2"] and res["changed_programs"] == [], res
    events = [line.split() for line in log.read_text().splitlines()]
    terms = [float(e[1]) for e in events if e[0] == "term"]
    exits = [float(e[1]) for e in events if e[0] == "exit"]
    starts = [e[1] for e in events if e[0] == "start"]
    assert len(terms) == len(exits) == 3 and max(terms) < min(exits), events  # stopped together
    assert starts == ["r3", "r1", "r2"], events
    assert all(wait_running(supervisor, name) != before[name] for name in before)
    assert status(supervisor)["up"][0] == "RUNNING"  # not named: left alone


def test_restart_of_a_program_supervisord_does_not_know_is_refused(run_module, supervisor):
    res = run_module("supervisor_apply", ctl=supervisor["ctl"], conf=supervisor["conf"], restart=["up", "nope"])
    assert res.get("failed") and res["msg"].startswith("restart=['nope']: "), res
    assert status(supervisor)["up"][0] == "RUNNING"
