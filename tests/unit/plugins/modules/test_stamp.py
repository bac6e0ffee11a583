"""Runs the module as Ansible does (conftest.run_module) on real files."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture
def lab(tmp_path):
    d = tmp_path / "lab"
    (d / "pki").mkdir(parents=True)
    for name in ("ca.crt", "ca.key"):
        (d / "pki" / name).write_text(name)
    return d


@pytest.fixture
def stamp(lab, run_module):
    def run(check=False, **over):
        args = {"path": str(lab / ".stamp"), "digest": "d1", "watch": [str(lab / "pki" / "*"), str(lab / "x.conf")]}
        return run_module("stamp", check=check, **(args | over))

    return run


def touch(lab, name, text):
    path = lab / name
    path.write_text(text)
    os.utime(path, ns=(1, 1))  # a distinct mtime even within the file system's clock tick


# (what happens after the stamp is recorded, the reason the query must give)
STALE = [
    (lambda lab: None, None),
    (lambda lab: (lab / "pki" / "ca.key").unlink(), "pki/ca.key missing"),
    (lambda lab: touch(lab, "pki/ca.crt", "other"), "pki/ca.crt changed"),
    (lambda lab: touch(lab, "pki/new.crt", "new"), "pki/new.crt new"),
    (lambda lab: touch(lab, "x.conf", "appeared"), "x.conf new"),
    (lambda lab: (lab / "pki" / "ca.crt").chmod(0o600), "pki/ca.crt changed"),
]


@pytest.mark.parametrize("after,reason", STALE)
def test_query_is_fresh_only_while_the_watched_files_are_as_recorded(lab, stamp, after, reason):
    assert stamp(state="present")["changed"]
    after(lab)
    got = stamp()
    assert got["fresh"] is (reason is None) and not got["changed"], got
    assert got["reason"] == (reason and f"{lab}/{reason}"), got


def test_no_stamp_then_other_inputs_are_stale(lab, stamp):
    assert stamp() == stamp() and stamp()["reason"] == "no stamp"
    stamp(state="present")
    assert stamp(digest="d2")["reason"] == "inputs changed"


def test_present_is_idempotent_and_check_mode_writes_nothing(lab, stamp):
    checked = stamp(check=True, state="present")
    assert checked["changed"] and not (lab / ".stamp").exists()
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["digest"] == "d1"
    assert stamp(state="present")["changed"]
    assert oct((lab / ".stamp").stat().st_mode & 0o777) == "0o600"
    again = stamp(state="present")
    assert not again["changed"] and again["fresh"] and again["files"] == 2


def test_a_missing_directory_is_no_stamp_to_a_query_and_refused_for_writing(tmp_path, run_module):
    path = str(tmp_path / "nowhere" / ".stamp")
    assert run_module("stamp", path=path, digest="d")["reason"] == "no stamp"
    got = run_module("stamp", path=path, digest="d", state="present")
    assert got["failed"] and got["msg"].startswith(f"path={path}: its directory"), got


@pytest.mark.parametrize(
    ("programs", "reason"),
    [
        (["up"], None),
        (["up", "down"], "program down is not running (STOPPED)"),
        (["nope"], "program nope is not running"),
    ],
)
def test_a_current_stamp_is_fresh_only_while_its_programs_run(lab, stamp, supervisor, programs, reason):
    assert stamp(state="present")["changed"] is True
    res = stamp(running=dict(ctl=supervisor["ctl"], conf=supervisor["conf"], programs=programs))
    assert res["fresh"] is (reason is None) and (res["reason"] or "").startswith(reason or ""), res
    # a stale stamp says why without asking supervisord; present ignores the programs
    assert (
        stamp(digest="d2", running=dict(ctl=supervisor["ctl"], conf=supervisor["conf"], programs=programs))["reason"]
        == "inputs changed"
    )
    assert (
        stamp(state="present", running=dict(ctl=supervisor["ctl"], conf=supervisor["conf"], programs=programs))[
            "changed"
        ]
        is False
    )


def test_a_stopped_supervisor_makes_the_stamp_stale(lab, stamp, supervisor):
    stamp(state="present")
    subprocess.run([supervisor["ctl"], "-c", supervisor["conf"], "shutdown"], capture_output=True, check=False)
    res = stamp(running=dict(ctl=supervisor["ctl"], conf=supervisor["conf"], programs=["up"]))
    assert res["fresh"] is False and res["reason"].startswith("program up is not running"), res


def test_data_is_recorded_with_the_stamp_and_returned_to_a_query(lab, stamp):
    assert stamp()["data"] is None
    data = {"managers": [{"name": "core", "flags": {"cluster-concurrency": 10}}]}
    written = stamp(state="present", data=data)
    assert written["changed"] is True and written["data"] == data
    assert stamp(state="present", data=data)["changed"] is False
    got = stamp()
    assert got["fresh"] is True and got["data"] == data
    # other data is a change of the stamp, not of the freshness its digest and files decide
    assert stamp(state="present", data={"managers": []})["changed"] is True
    assert stamp()["data"] == {"managers": []}


def test_inputs_only_when_just_the_digest_changed(lab, stamp, supervisor):
    sv = {"ctl": supervisor["ctl"], "conf": supervisor["conf"]}
    assert stamp()["inputs_only"] is False  # no stamp yet
    stamp(state="present")
    assert stamp()["inputs_only"] is False  # fresh
    res = stamp(digest="d2", running=dict(sv, programs=["up"]))
    assert (res["fresh"], res["reason"], res["inputs_only"]) == (False, "inputs changed", True), res
    # a program that does not run, or a watched file touched, needs the whole converge
    assert stamp(digest="d2", running=dict(sv, programs=["up", "down"]))["inputs_only"] is False
    touch(lab, "x.conf", "edited")
    res = stamp(digest="d2", running=dict(sv, programs=["up"]))
    assert (res["reason"], res["inputs_only"]) == ("inputs changed", False), res
