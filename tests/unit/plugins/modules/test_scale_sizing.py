"""Runs scale_sizing as Ansible does (conftest.run_module) on a set's kept runs: an index and three results files."""

from __future__ import annotations

import json

MACHINE = {"cores": 2, "memory_bytes": 8 * 2**30}


def kept_runs(tmp_path, sizes):
    """A runs directory as scale_results keeps it: each run adds 10 clusters to those earlier runs left."""
    lines, earlier = [], 0
    for i, n in enumerate(sizes):
        rid = f"20261205T10{i:02d}00Z-000{i}"
        doc = {
            "summary": {"clusters": n - earlier},
            "prometheus": {
                "summary": {"managers": {"capi-core": {"cpu_cores_max": 0.01 * n, "rss_mib_max": 50 + 1.5 * n}}}
            },
            "run": {"machine": MACHINE},
        }
        if earlier:
            doc["earlier"] = {"Cluster": earlier}
        (tmp_path / rid).mkdir()
        (tmp_path / rid / "scale.json").write_text(json.dumps(doc))
        lines.append(json.dumps({"id": rid, "path": f"{rid}/scale.json", "started": f"2026-12-05T10:{i:02d}:00Z"}))
        earlier = n
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    return str(tmp_path)


def test_sizing_from_a_sets_runs_writes_its_table_once(tmp_path, run_module):
    runs_dir = kept_runs(tmp_path, [10, 20, 30])
    md = str(tmp_path / "sizing.md")
    check = run_module("scale_sizing", check=True, runs_dir=runs_dir, markdown_path=md)
    assert check["changed"] and not (tmp_path / "sizing.md").exists(), check
    out = run_module("scale_sizing", runs_dir=runs_dir, markdown_path=md)
    assert out["changed"] and out["sizes"] == [10, 20, 30], out
    mem = next(f for f in out["fits"] if f["resource"] == "memory_mib")
    assert mem["predicted"]["1000"] == {"value": 1550.0, "error": 0.0}
    assert mem["stated"]["ratio"] == round(1550 / 8192, 3)
    # cores: 0.01 N past 2 from N = 201 (memory: 50 + 1.5 N past 8 GiB only from 5,428)
    assert out["runs_out"] == {"resource": "cpu_cores", "n": 201, "capacity": 2}
    assert "runs out of **CPU cores** first" in (tmp_path / "sizing.md").read_text()
    again = run_module("scale_sizing", runs_dir=runs_dir, markdown_path=md)
    assert not again["changed"], again


def test_two_sizes_are_refused_naming_them(tmp_path, run_module):
    out = run_module("scale_sizing", runs_dir=kept_runs(tmp_path, [10, 20]))
    assert out["failed"] and out["msg"].startswith("the runs hold 2 size(s) (10, 20): a fit needs 3"), out


def test_too_few_sizes_can_be_skipped_as_the_scenarios_do(tmp_path, run_module):
    md = tmp_path / "sizing.md"
    out = run_module("scale_sizing", runs_dir=kept_runs(tmp_path, [10, 20]), too_few="skip", markdown_path=str(md))
    assert not out.get("failed") and not out["sized"] and not out["changed"], out
    assert out["sizes"] == [10, 20] and "a fit needs 3" in out["reason"] and not md.exists()
    bad = run_module("scale_sizing", runs_dir=str(tmp_path), too_few="skip", targets=[0])
    assert bad["failed"] and bad["msg"].startswith("targets=[0] must be"), bad
