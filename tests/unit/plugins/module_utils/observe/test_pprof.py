from __future__ import annotations

import os

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.observe import pprof

# Real `go tool pprof -top` output (a kube-apiserver CPU profile and heap profile of a lab).
CPU_TOP = """File: kube-apiserver
Build ID: 6fecdbfe9e5cba538702e6179563da29c982b54f
Type: cpu
Time: 2026-11-27 14:06:02 UTC
Duration: 10.01s, Total samples = 1620ms (16.18%)
Showing nodes accounting for 430ms, 26.54% of 1620ms total
Showing top 5 nodes out of 710
      flat  flat%   sum%        cum   cum%
     150ms  9.26%  9.26%      150ms  9.26%  runtime.spanClass.sizeclass (inline)
      80ms  4.94% 14.20%       80ms  4.94%  internal/runtime/syscall/linux.Syscall6
      80ms  4.94% 19.14%      290ms 17.90%  runtime.tryDeferToSpanScan
         0     0% 19.14%     1.20s 74.07%  k8s.io/apiserver/pkg/endpoints/handlers.(*patcher).patchResource.func2
"""
HEAP_TOP = """File: kube-apiserver
Type: inuse_space
Showing nodes accounting for 61.92MB, 20.70% of 299.07MB total
Dropped 626 nodes (cum <= 1.50MB)
      flat  flat%   sum%        cum   cum%
   40.50MB 13.54% 13.54%    40.50MB 13.54%  k8s.io/apimachinery/pkg/runtime.(*RawExtension).UnmarshalJSON
  512.01kB  0.17% 13.71%   21.42MB  7.16%  encoding/json.(*decodeState).object
"""


def test_parse_cpu_top():
    top = pprof.parse_top(CPU_TOP)
    assert top["total"] == pytest.approx(1.62)
    assert [r["function"] for r in top["rows"]] == [
        "runtime.spanClass.sizeclass (inline)",
        "internal/runtime/syscall/linux.Syscall6",
        "runtime.tryDeferToSpanScan",
        "k8s.io/apiserver/pkg/endpoints/handlers.(*patcher).patchResource.func2",
    ]
    assert top["rows"][0] == {
        "function": "runtime.spanClass.sizeclass (inline)",
        "flat": 0.15,
        "flat_pct": 9.26,
        "cum": 0.15,
        "cum_pct": 9.26,
    }
    assert top["rows"][3]["flat"] == 0 and top["rows"][3]["cum"] == pytest.approx(1.2)


def test_parse_heap_top_in_bytes():
    top = pprof.parse_top(HEAP_TOP)
    assert top["total"] == pytest.approx(299.07 * 2**20)
    assert top["rows"][0]["flat"] == pytest.approx(40.5 * 2**20)
    assert top["rows"][1]["flat"] == pytest.approx(512.01 * 1024)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("1.5", "s", 1.5), ("250", "ms", 0.25), ("3", "us", 3e-6), ("2", "min", 120), ("1", "GB", 2**30), ("7", "", 7)],
)
def test_units(value, unit, expected):
    assert pprof.to_number(value, unit) == pytest.approx(expected)


def test_unknown_unit_is_refused():
    with pytest.raises(pprof.ProfileError, match="unknown unit"):
        pprof.to_number("1", "parsecs")


def test_captures_within_the_window(tmp_path):
    for job, names in {
        "capi-core": ["cpu-100.pb.gz", "cpu-160.pb.gz", "heap-160.pb.gz", "cpu-400.pb.gz"],
        "etcd": ["cpu-10.pb.gz"],
        "kube-apiserver": [".cpu-tmp", "notes.txt"],
    }.items():
        os.makedirs(tmp_path / job)
        for n in names:
            (tmp_path / job / n).write_bytes(b"x")
    found = pprof.captures(str(tmp_path), 100, 300)
    assert list(found) == ["capi-core"]  # etcd's capture is before the window; kube-apiserver has none
    assert [os.path.basename(p) for p in found["capi-core"]["cpu"]] == ["cpu-100.pb.gz", "cpu-160.pb.gz"]
    assert [os.path.basename(p) for p in found["capi-core"]["heap"]] == ["heap-160.pb.gz"]
    assert pprof.captures(str(tmp_path / "missing"), 0, 1) == {}


def test_a_failing_pprof_names_the_file(tmp_path):
    bad = tmp_path / "cpu-1.pb.gz"
    bad.write_bytes(b"not a profile")
    with pytest.raises(pprof.ProfileError, match="cpu-1.pb.gz"):
        pprof.pprof_top("go", [str(bad)], 5, [], 120)
    with pytest.raises(pprof.ProfileError, match="go=/nonexistent/go"):
        pprof.pprof_top("/nonexistent/go", [str(bad)], 5, [], 120)
