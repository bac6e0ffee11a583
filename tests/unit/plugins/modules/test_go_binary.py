"""Runs the module as Ansible does (conftest.run_module) against a real Go build."""

from __future__ import annotations

import os
import subprocess

import pytest


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


def test_builds_then_is_idempotent_then_rebuilds_on_change(tmp_path, wrapper, run_module):
    a = args(wrapper, tmp_path)
    first = run_module("go_binary", **a)
    assert first["changed"] is True and first["reason"] == "binary missing", first
    out = subprocess.run([a["dest"]], capture_output=True, text=True).stderr.strip()
    assert out == "v1.0.0"
    second = run_module("go_binary", **a)
    assert second["changed"] is False and second["reason"] is None and second["sha256"] == first["sha256"]
    third = run_module("go_binary", **dict(a, version="v1.0.1", ldflags=["-X main.version=v1.0.1"]))
    assert third["changed"] is True and third["reason"] == "ldflags changed"
    assert subprocess.run([a["dest"]], capture_output=True, text=True).stderr.strip() == "v1.0.1"


def test_check_mode_builds_nothing(tmp_path, wrapper, run_module):
    a = args(wrapper, tmp_path)
    res = run_module("go_binary", check=True, **a)
    assert res["changed"] is True and res["diff"]["before"] == {} and res["diff"]["after"]["version"] == "v1.0.0"
    assert not os.path.exists(a["dest"])


def test_too_old_go_is_named(tmp_path, wrapper, run_module):
    (wrapper / "go.mod").write_text("module example.local/w\n\ngo 1.99\n")
    res = run_module("go_binary", **args(wrapper, tmp_path))
    assert res["failed"] is True
    assert "needs go1.99.0 or newer" in res["msg"] and str(wrapper) in res["msg"]


def test_missing_required_option(tmp_path, wrapper, run_module):
    a = args(wrapper, tmp_path)
    del a["package"]
    res = run_module("go_binary", **a)
    assert res["failed"] is True and "package" in res["msg"]
