"""Runs the module as Ansible does (a subprocess given its arguments as JSON) against a real Go build."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULE = os.path.join(ROOT, "plugins", "modules", "go_binary.py")


def run(tmp_path, check=False, **args):
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=True)}
    path = tmp_path / "args.json"
    path.write_text(json.dumps(payload))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.run([sys.executable, MODULE, str(path)], capture_output=True, text=True, env=env)
    return json.loads(proc.stdout)


@pytest.fixture
def wrapper(tmp_path):
    src = tmp_path / "wrapper"
    src.mkdir()
    (src / "go.mod").write_text("module example.local/w\n\ngo 1.22\n")
    (src / "go.sum").write_text("")
    (src / "main.go").write_text('package main\n\nvar version = "unset"\n\nfunc main() { println(version) }\n')
    return src


def args(wrapper, tmp_path, **over):
    base = {
        "src": str(wrapper),
        "package": ".",
        "dest": str(tmp_path / "bin" / "w"),
        "version": "v1.0.0",
        "ldflags": ["-X main.version=v1.0.0"],
        "mod": "mod",
    }
    base.update(over)
    return base


def test_builds_then_is_idempotent_then_rebuilds_on_change(tmp_path, wrapper):
    a = args(wrapper, tmp_path)
    first = run(tmp_path, **a)
    assert first["changed"] is True and first["reason"] == "binary missing", first
    out = subprocess.run([a["dest"]], capture_output=True, text=True).stderr.strip()
    assert out == "v1.0.0"
    second = run(tmp_path, **a)
    assert second["changed"] is False and second["reason"] is None and second["sha256"] == first["sha256"]
    third = run(tmp_path, **dict(a, version="v1.0.1", ldflags=["-X main.version=v1.0.1"]))
    assert third["changed"] is True and third["reason"] == "ldflags changed"
    assert subprocess.run([a["dest"]], capture_output=True, text=True).stderr.strip() == "v1.0.1"


def test_check_mode_builds_nothing(tmp_path, wrapper):
    a = args(wrapper, tmp_path)
    res = run(tmp_path, check=True, **a)
    assert res["changed"] is True and res["diff"]["before"] == {} and res["diff"]["after"]["version"] == "v1.0.0"
    assert not os.path.exists(a["dest"])


def test_too_old_go_is_named(tmp_path, wrapper):
    (wrapper / "go.mod").write_text("module example.local/w\n\ngo 1.99\n")
    res = run(tmp_path, **args(wrapper, tmp_path))
    assert res["failed"] is True
    assert "needs go1.99.0 or newer" in res["msg"] and str(wrapper) in res["msg"]


def test_missing_required_option(tmp_path, wrapper):
    a = args(wrapper, tmp_path)
    del a["package"]
    res = run(tmp_path, **a)
    assert res["failed"] is True and "package" in res["msg"]
