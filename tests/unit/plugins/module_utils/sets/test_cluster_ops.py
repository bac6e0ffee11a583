from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import cluster_ops

DELETING = {"type": "Deleting", "status": "True", "reason": "WaitingForMachineDeletion", "message": "* Machines: a-1"}


@pytest.mark.parametrize(
    ("meta", "conditions", "said"),
    [
        ({"name": "a"}, [], "KubeadmControlPlane ns/a finalizers [] (not being deleted)"),
        (
            {"name": "a", "deletionTimestamp": "t", "finalizers": ["x/y"]},
            [],
            "KubeadmControlPlane ns/a finalizers ['x/y']",
        ),
        (
            {"name": "a", "deletionTimestamp": "t"},
            [DELETING],
            "KubeadmControlPlane ns/a finalizers [] (deleting: WaitingForMachineDeletion: * Machines: a-1)",
        ),
    ],
    ids=["not-deleted", "deleted-silent", "deleted-says"],
)
def test_a_holder_is_described_with_its_finalizers_and_what_it_waits_for(meta, conditions, said):
    obj = {"metadata": meta, "status": {"conditions": conditions}}
    assert cluster_ops._described("KubeadmControlPlane", "ns", obj) == said
