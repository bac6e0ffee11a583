"""Runs the module as Ansible does (conftest.run_module), with this interpreter's real libraries."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.parametrize(
    ("libs", "missing"),
    [
        ({"json": "", "yaml": "PyYAML>=6.0", "os.path": ""}, []),
        (
            {"scalelab_no_such_lib": "scalelab-no-such-lib>=1"},
            [{"import": "scalelab_no_such_lib", "requirement": "scalelab-no-such-lib>=1"}],
        ),
        (
            {"scalelab_no_such_pkg.sub": ""},
            [{"import": "scalelab_no_such_pkg.sub", "requirement": "scalelab_no_such_pkg.sub"}],
        ),
        ({"yaml": "PyYAML", "zz_missing": "zz"}, [{"import": "zz_missing", "requirement": "zz"}]),
    ],
    ids=["all-there", "missing", "missing-parent", "one-of-two"],
)
def test_missing_libraries_are_named_with_their_requirement(run_module, libs, missing):
    res = run_module("python_libs", libs=libs)
    assert res.get("failed") is None and res["changed"] is False, res
    assert res["missing"] == missing and res["python"] == sys.executable


def test_fail_on_missing_is_one_line_naming_the_interpreter_and_the_install(run_module):
    res = run_module(
        "python_libs", check=True, libs={"zz_missing": "zz>=1", "json": ""}, purpose="the report", fail_on_missing=True
    )
    assert res["failed"] is True
    assert res["msg"] == f'{sys.executable} lacks zz_missing (for the report): {sys.executable} -m pip install "zz>=1"'


@pytest.mark.parametrize("name", ["", "not-a-module", "a..b", "1abc"])
def test_a_name_that_cannot_be_imported_is_refused(run_module, name):
    res = run_module("python_libs", libs={name: "x"})
    assert res["failed"] is True and res["msg"] == f"libs: {name!r} is not an importable module name"
