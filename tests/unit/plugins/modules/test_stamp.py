"""Runs the module as Ansible does (a subprocess given its arguments as JSON) on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULE = os.path.join(ROOT, "plugins", "modules", "stamp.py")


def run(tmp_path, check=False, **args):
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=True)}
    path = tmp_path / "args.json"
    path.write_text(json.dumps(payload))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, env=env)
    return json.loads(proc.stdout)


@pytest.fixture
def lab(tmp_path):
    d = tmp_path / "lab"
    (d / "pki").mkdir(parents=True)
    for name in ("ca.crt", "ca.key"):
        (d / "pki" / name).write_text(name)
    return d


def stamp(lab, tmp_path, check=False, **over):
    args = {"path": str(lab / ".stamp"), "digest": "d1", "watch": [str(lab / "pki" / "*"), str(lab / "x.conf")]}
    return run(tmp_path, check=check, **(args | over))


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
def test_query_is_fresh_only_while_the_watched_files_are_as_recorded(lab, tmp_path, after, reason):
    assert stamp(lab, tmp_path, state="present")["changed"]
    after(lab)
    got = stamp(lab, tmp_path)
    assert got["fresh"] is (reason is None) and not got["changed"], got
    assert got["reason"] == (reason and f"{lab}/{reason}"), got


def test_no_stamp_then_other_inputs_are_stale(lab, tmp_path):
    assert stamp(lab, tmp_path) == stamp(lab, tmp_path) and stamp(lab, tmp_path)["reason"] == "no stamp"
    stamp(lab, tmp_path, state="present")
    assert stamp(lab, tmp_path, digest="d2")["reason"] == "inputs changed"


def test_present_is_idempotent_and_check_mode_writes_nothing(lab, tmp_path):
    checked = stamp(lab, tmp_path, check=True, state="present")
    assert checked["changed"] and not (lab / ".stamp").exists()
    assert checked["diff"]["before"] == {} and checked["diff"]["after"]["digest"] == "d1"
    assert stamp(lab, tmp_path, state="present")["changed"]
    assert oct((lab / ".stamp").stat().st_mode & 0o777) == "0o600"
    again = stamp(lab, tmp_path, state="present")
    assert not again["changed"] and again["fresh"] and again["files"] == 2


def test_a_missing_directory_is_no_stamp_to_a_query_and_refused_for_writing(tmp_path):
    path = str(tmp_path / "nowhere" / ".stamp")
    assert run(tmp_path, path=path, digest="d")["reason"] == "no stamp"
    got = run(tmp_path, path=path, digest="d", state="present")
    assert got["failed"] and got["msg"].startswith(f"path={path}: its directory"), got
