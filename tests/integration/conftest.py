from __future__ import annotations

import pytest

from .lab import Lab

# Ports apart from the default lab's, so a developer's running lab is left alone.
PORTS = {
    "etcd_client": 32379,
    "etcd_peer": 32380,
    "etcd_metrics": 32381,
    "apiserver": 36443,
    "controller_manager": 30257,
}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One real host management cluster for the whole test session, removed at the end."""
    lab = Lab("itest", str(tmp_path_factory.mktemp("lab")), PORTS)
    lab.playbook("teardown.yml")  # a lab left by an interrupted earlier session
    first = lab.playbook("scale.yml")
    assert first["rc"] == 0, first["stdout"][-4000:] + first["stderr"][-2000:]
    lab.first_converge = first
    yield lab
    lab.playbook("teardown.yml")
