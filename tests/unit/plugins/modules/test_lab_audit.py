"""Runs lab_audit as Ansible does (conftest.run_module) on a real directory."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/results"])
def test_a_kept_entry_that_is_not_a_plain_name_is_refused(tmp_path, run_module, name):
    res = run_module("lab_audit", dir=str(tmp_path), keep=["results", name])
    assert res.get("failed") and res["msg"].startswith(f"keep=[{name!r}]: "), res


def test_a_teardown_that_kept_the_results_leaves_nothing_else(tmp_path, run_module):
    lab = tmp_path / "lab"  # tmp_path itself holds run_module's arguments file
    (lab / "results").mkdir(parents=True)
    (lab / "pki").mkdir()
    res = run_module("lab_audit", dir=str(lab), keep=["results"], fail_on_leftovers=True)
    assert res.get("failed") and res["msg"] == f"dir={lab}: 1 left behind:\npath: {lab}/pki", res
    (lab / "pki").rmdir()
    res = run_module("lab_audit", dir=str(lab), keep=["results"], fail_on_leftovers=True)
    assert not res.get("failed") and res["leftovers"] == 0 and res["paths"] == [], res
    assert run_module("lab_audit", dir=str(lab))["paths"] == [str(lab)]
