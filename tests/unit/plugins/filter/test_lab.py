"""The lab layout filters: one definition of where a lab lives and what its stamps digest."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml
from ansible_collections.scalelab.capi.plugins.filter import metrics
from ansible_collections.scalelab.capi.plugins.filter.lab import (
    FilterModule,
    lab_dir,
    lab_supervisor,
    readyz,
    role_digest,
)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("/home/u",), "/home/u/.local/share/scalelab/scalelab"),
        (("/home/u", "bench"), "/home/u/.local/share/scalelab/bench"),
        (("/root", "farm-vm1"), "/root/.local/share/scalelab/farm-vm1"),
    ],
)
def test_lab_dir(args, expected):
    assert lab_dir(*args) == expected


def test_lab_supervisor_names_the_files_the_supervisor_role_writes():
    roles = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")
    with open(os.path.join(roles, "supervisor", "templates", "supervisord.conf.j2")) as f:
        template = f.read()
    s = lab_supervisor("/l")
    assert s == {
        "dir": "/l",
        "ctl": "/l/venv/bin/supervisorctl",
        "conf": "/l/supervisor/supervisord.conf",
        "programs_dir": "/l/supervisor/conf.d",
        "logs_dir": "/l/logs",
    }
    # The configuration it points at includes the programs directory and logs where the filter says.
    assert "files = {{ supervisor_dir }}/supervisor/conf.d/*.conf" in template
    assert "childlogdir={{ supervisor_dir }}/logs" in template


@pytest.mark.parametrize(
    ("names", "host", "base", "expected"),
    [
        ([], "127.0.0.1", 1, []),
        (
            ["core", "bootstrap"],
            "127.0.0.1",
            "18300",
            [
                {"name": "core", "url": "http://127.0.0.1:18301/readyz"},
                {"name": "bootstrap", "url": "http://127.0.0.1:18311/readyz"},
            ],
        ),
        (["bmo"], "[::1]", 9000, [{"name": "bmo", "url": "http://[::1]:9001/readyz"}]),
    ],
)
def test_readyz(names, host, base, expected):
    assert readyz(names, host, base) == expected


def _roles(tmp_path):
    for rel, text in {"one/tasks/main.yml": "a", "supervisor/templates/p.j2": "b", "two/x": "c"}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_role_digest_changes_with_the_role_and_the_shared_role_only(tmp_path):
    roles = _roles(tmp_path)
    first = role_digest(str(roles / "one"))
    assert first == role_digest(str(roles / "one")) and len(first) == 64
    (roles / "two" / "x").write_text("changed")  # another role: no effect
    (roles / "one" / "tasks" / "main.pyc").write_text("bytecode")
    assert role_digest(str(roles / "one")) == first
    (roles / "supervisor" / "templates" / "p.j2").write_text("b2")
    second = role_digest(str(roles / "one"))
    assert second != first
    shutil.move(roles / "one" / "tasks", roles / "one" / "handlers")  # a renamed file counts
    assert role_digest(str(roles / "one")) not in (first, second)
    assert role_digest(str(roles / "supervisor")) != second


@pytest.mark.parametrize("name", sorted({**FilterModule().filters(), **metrics.FilterModule().filters()}))
def test_every_filter_is_documented_beside_it(name):
    """ansible-doc -t filter reads <name>.yml beside the plugin: it must parse and name the filter."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter", f"{name}.yml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["DOCUMENTATION"]["options"]["_input"]["description"]
    assert doc["EXAMPLES"] and doc["RETURN"]["_value"]["description"]
