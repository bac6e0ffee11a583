"""Runs a module of ours as Ansible does: a subprocess given its arguments as JSON, its result read from stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture
def run_module(tmp_path):
    def run(name: str, check: bool = False, **args) -> dict:
        payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=True)}
        path = tmp_path / f"{name}-args.json"
        path.write_text(json.dumps(payload))
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
        module = os.path.join(ROOT, "plugins", "modules", f"{name}.py")
        proc = subprocess.run([sys.executable, module, str(path)], capture_output=True, text=True, env=env)
        return json.loads(proc.stdout)

    return run
