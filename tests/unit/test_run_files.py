"""runs/*.yml, the one-file description of a run (`-e @runs/<file>.yml`): every key is a knob a role documents, and
each value passes that role's argument spec (a typo or a string count fails here, not as an ignored variable)."""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNS = sorted(glob.glob(os.path.join(ROOT, "runs", "*.yml")))


def _options() -> dict[str, dict]:
    """Every option of every role's entry points: name -> its spec."""
    out: dict[str, dict] = {}
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as f:
            for entry in (yaml.safe_load(f) or {}).get("argument_specs", {}).values():
                out.update(entry.get("options") or {})
    return out


def test_there_are_examples():
    assert RUNS, "runs/ holds the README's examples"


def problems(run: dict) -> list[str]:
    options = _options()
    unknown = sorted(set(run) - set(options))
    if unknown:
        return [f"no role documents {unknown}"]
    spec = {k: {key: v for key, v in options[k].items() if key not in ("description", "default")} for k in run}
    return list(ArgumentSpecValidator(spec).validate(run).error_messages)


@pytest.mark.parametrize("path", RUNS, ids=os.path.basename)
def test_a_run_file_names_known_knobs_with_valid_values(path):
    with open(path) as f:
        assert problems(yaml.safe_load(f)) == []


@pytest.mark.parametrize(
    ("run", "said"),
    [
        ({"scale_cluster": 300}, "no role documents ['scale_cluster']"),
        ({"scale_clusters": "many"}, "scale_clusters"),
        ({"scale_scenario": "galaxy"}, "scale_scenario"),
    ],
)
def test_a_bad_run_file_is_caught(run, said):
    found = problems(run)
    assert found and said in found[0], found
