"""A template set's shape (KubeadmControlPlane + MachineDeployments, no topology): what each phase patches there."""

from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import template_shape as ts

KCP = {"spec": {"replicas": 1, "version": "v1.30.0"}}
MDS = [{"spec": {"replicas": 2, "template": {"spec": {"version": "v1.30.0"}}}}]
AT = "2026-12-07T08:00:00.123456Z"


@pytest.mark.parametrize(
    ("phase", "p", "api", "kcp", "md"),
    [
        ("upgrade", {"version": "v1.31.1"}, "v1beta1", {"spec": {"version": "v1.31.1"}},
         {"spec": {"template": {"spec": {"version": "v1.31.1"}}}}),
        ("rollout", {}, "v1beta1", {"spec": {"rolloutAfter": "2026-12-07T08:00:00Z"}},
         {"spec": {"rolloutAfter": "2026-12-07T08:00:00Z"}}),
        ("rollout", {}, "v1beta2", {"spec": {"rollout": {"after": "2026-12-07T08:00:00Z"}}},
         {"spec": {"rollout": {"after": "2026-12-07T08:00:00Z"}}}),
        ("scale_workers", {"replicas": 3}, "v1beta1", None, {"spec": {"replicas": 3}}),
        ("soak", {"seconds": 180}, "v1beta1", None, None),
    ],
)  # fmt: skip
def test_each_phase_patches_the_control_plane_and_pools_it_changes(phase, p, api, kcp, md):
    assert ts.patches(phase, p, AT, api) == (kcp, md)


def test_machines_wanted_are_the_control_planes_and_the_pools_replicas():
    assert ts.expected_machines(KCP, MDS) == 3
    assert ts.expected_machines(KCP, MDS + MDS) == 5
    assert ts.expected_machines({"spec": {}}, []) == 0


@pytest.mark.parametrize(
    ("phase", "have"),
    [("upgrade", "v1.30.0"), ("scale_workers", 2)],
)
def test_what_a_template_cluster_has(phase, have):
    assert ts.have(phase, KCP, MDS) == have


def test_pools_that_disagree_are_said_as_a_list_and_a_version_behind_on_a_pool_counts():
    assert ts.have("scale_workers", KCP, [*MDS, {"spec": {"replicas": 4}}]) == [2, 4]
    behind = [{"spec": {"replicas": 1, "template": {"spec": {"version": "v1.29.9"}}}}]
    assert ts.have("upgrade", KCP, behind) == ["v1.29.9", "v1.30.0"]


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase=bogus"):
        ts.patches("bogus", {}, AT, "v1beta1")
