"""Runs the module as Ansible does (conftest.run_module) on real profiles of a small Go program."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

PROGRAM = """package main

import (
    "os"
    "runtime/pprof"
    "time"
)

func spin() int {
    x := 0
    for t := time.Now(); time.Since(t) < 300*time.Millisecond; {
        x++
    }
    return x
}

func main() {
    f, _ := os.Create(os.Args[1])
    pprof.StartCPUProfile(f)
    spin()
    pprof.StopCPUProfile()
    f.Close()
    h, _ := os.Create(os.Args[2])
    pprof.WriteHeapProfile(h)
    h.Close()
}
"""


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    """dir/<job>/{cpu,heap}-150.pb.gz from a real run of PROGRAM."""
    if shutil.which("go") is None:
        pytest.fail("go is not on PATH (hack/setup installs it)")
    src = tmp_path_factory.mktemp("prog")
    (src / "go.mod").write_text("module example.local/prog\n\ngo 1.22\n")
    (src / "main.go").write_text(PROGRAM)
    out = tmp_path_factory.mktemp("profiles")
    (out / "capi-core").mkdir()
    cpu, heap = out / "capi-core" / "cpu-150.pb.gz", out / "capi-core" / "heap-150.pb.gz"
    subprocess.run(["go", "run", ".", str(cpu), str(heap)], cwd=src, check=True, capture_output=True, timeout=300)
    return out


def test_the_same_captures_are_read_back_not_summarized_again(tmp_path, profiles, run_module):
    path = tmp_path / "run.json"
    args = {"dir": str(profiles), "start": 100, "end": 200, "path": str(path), "seconds": 0.3}
    first = run_module("profile_top", **args)
    assert first["changed"] is True and first["summary"]["capi-core"]["top_cum"].startswith("main."), first
    doc = json.loads(path.read_text())
    # What the second run reports comes from the JSON (no pprof run): a marker put there shows up.
    doc["profiles"]["jobs"]["capi-core"]["cpu"]["top_flat"][0]["function"] = "marker.fromTheFile"
    path.write_text(json.dumps(doc))
    second = run_module("profile_top", **args)
    assert second["changed"] is False and second["summary"]["capi-core"]["top_flat"] == "marker.fromTheFile"
    # Other options or another window: summarized again from the captures.
    third = run_module("profile_top", **dict(args, nodes=5))
    assert third["changed"] is True and third["summary"] == first["summary"]
    assert run_module("profile_top", **dict(args, start=160))["summary"] == {}
