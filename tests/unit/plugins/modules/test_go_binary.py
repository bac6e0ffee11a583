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
    out = subprocess.run([a["dest"]], capture_output=True, text=True, check=False).stderr.strip()
    assert out == "v1.0.0"
    second = run_module("go_binary", **a)
    assert second["changed"] is False and second["reason"] is None and second["sha256"] == first["sha256"]
    third = run_module("go_binary", **dict(a, version="v1.0.1", ldflags=["-X main.version=v1.0.1"]))
    assert third["changed"] is True and third["reason"] == "ldflags changed"
    assert subprocess.run([a["dest"]], capture_output=True, text=True, check=False).stderr.strip() == "v1.0.1"


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


def test_a_list_of_binaries_is_built_in_one_run_then_checked_without_rebuilding(tmp_path, wrapper, run_module):
    items = [
        {"name": "one", "src": str(wrapper), "package": ".", "dest": str(tmp_path / "bin" / "one"), "version": "v1"},
        {
            "src": str(wrapper),
            "package": ".",
            "dest": str(tmp_path / "bin" / "two"),
            "version": "v2",
            "ldflags": ["-X main.version=v2"],
        },
    ]
    first = run_module("go_binary", binaries=items, mod="mod")
    assert first["changed"] is True, first
    assert [(b["name"], b["reason"]) for b in first["binaries"]] == [
        ("one", "binary missing"),
        ("two", "binary missing"),
    ]
    assert subprocess.run([items[1]["dest"]], capture_output=True, text=True, check=False).stderr.strip() == "v2"
    second = run_module("go_binary", binaries=items, mod="mod")
    assert second["changed"] is False and [b["reason"] for b in second["binaries"]] == [None, None], second
    assert [b["sha256"] for b in second["binaries"]] == [b["sha256"] for b in first["binaries"]]
    # a touched binary (same content, new mtime) is current; one rewritten is rebuilt
    os.utime(items[0]["dest"], (1, 1))
    with open(items[1]["dest"], "ab") as f:
        f.write(b"x")
    third = run_module("go_binary", binaries=items, mod="mod")
    assert [b["reason"] for b in third["binaries"]] == [None, "binary altered since it was built"], third
    assert run_module("go_binary", binaries=items, mod="mod")["changed"] is False


@pytest.mark.parametrize(
    ("over", "words"),
    [
        (
            {"binaries": [{"src": "/x", "package": ".", "dest": "/y", "version": "v1"}]},
            ["mutually exclusive", "binaries", "dest"],
        ),
        (
            {"dest": None, "package": None, "src": None, "version": None},
            ["one of the following is required", "binaries", "dest"],
        ),
        ({"version": None}, ["version"]),
    ],
)
def test_one_binary_or_a_list_not_both_nor_half(tmp_path, wrapper, run_module, over, words):
    a = {k: v for k, v in dict(args(wrapper, tmp_path), **over).items() if v is not None}
    res = run_module("go_binary", **a)
    assert res.get("failed") is True and all(w in res["msg"] for w in words), res
    assert not os.path.exists(tmp_path / "bin")


def _items(wrapper, tmp_path, *packages: str) -> list[dict]:
    return [
        {"name": f"b{i}", "src": str(wrapper), "package": pkg, "dest": str(tmp_path / "bin" / f"b{i}"), "version": "v1"}
        for i, pkg in enumerate(packages)
    ]


def test_builds_run_two_at_a_time_and_results_keep_their_order(tmp_path, wrapper, run_module):
    items = _items(wrapper, tmp_path, ".", ".", ".")
    res = run_module("go_binary", binaries=items, mod="mod")
    assert [b["name"] for b in res["binaries"]] == ["b0", "b1", "b2"] and all(b["changed"] for b in res["binaries"])
    assert all(os.access(i["dest"], os.X_OK) for i in items)


def test_after_a_failed_build_none_starts_and_the_failed_one_is_named(tmp_path, wrapper, run_module):
    items = _items(wrapper, tmp_path, ".", "./missing", ".")
    res = run_module("go_binary", binaries=items, mod="mod", jobs=1)
    assert res["failed"] is True and "package=./missing: go build failed" in res["msg"], res
    assert os.path.exists(items[0]["dest"]) and not os.path.exists(items[2]["dest"])


def test_jobs_below_one_is_refused_before_any_build(tmp_path, wrapper, run_module):
    items = _items(wrapper, tmp_path, ".")
    res = run_module("go_binary", binaries=items, mod="mod", jobs=0)
    assert res["failed"] is True and res["msg"] == "jobs=0 must be >= 1", res
    assert not os.path.exists(tmp_path / "bin")
