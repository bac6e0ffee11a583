from __future__ import annotations

import pytest

from .lab import running_lab

# Ports apart from the default lab's, so a developer's running lab is left alone.
PORTS = {
    "etcd_client": 32379,
    "etcd_peer": 32380,
    "etcd_metrics": 32381,
    "apiserver": 36443,
    "controller_manager": 30257,
}


# The Cluster API stack of the test lab: manager ports and the in-memory provider's address (its workload API
# servers use fixed ports 19000 and 20000 up) apart from a developer's default lab on 127.0.0.1.
CAPI = {
    "capi_stack_port_base": 35400,
    "capi_stack_inmemory_address": "127.0.0.3",
    "scale_set_name": "itest",
    "scale_clusters": 3,
}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One real host lab (management cluster, Cluster API stack, 3 clusters) for the session, removed at the end."""
    with running_lab("itest", str(tmp_path_factory.mktemp("lab")), PORTS, CAPI) as lab:
        yield lab
