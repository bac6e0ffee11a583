"""A Cluster's shape: a ClusterClass Cluster's topology, or a template Cluster's KubeadmControlPlane and
MachineDeployments read into that form; what each phase patches on a template set's objects."""

from __future__ import annotations

import json

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import shapes as sh
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import SetError, shape_differences
from ansible_collections.scalelab.capi.plugins.module_utils.sets.phases import TABLE

AT = "2026-12-07T08:00:00.123456Z"
V1 = {"KubeadmControlPlane": "controlplane.cluster.x-k8s.io/v1beta1", "MachineDeployment": "cluster.x-k8s.io/v1beta1"}
V2 = {"KubeadmControlPlane": "controlplane.cluster.x-k8s.io/v1beta2", "MachineDeployment": "cluster.x-k8s.io/v1beta2"}


def cluster(name="c1", ref=True):
    spec = {"controlPlaneRef": {"kind": "KubeadmControlPlane", "name": name}} if ref else {}
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def kcp(name="c1", version="v1.30.0", replicas=1, annotations=None, **spec):
    md = {"name": name, "namespace": "ns", "annotations": annotations or {}}
    return {"metadata": md, "spec": {"replicas": replicas, "version": version, **spec}}


def md(cluster_name="c1", pool="md-0", version="v1.30.0", replicas=2, label=False, **spec):
    meta = {"name": f"{cluster_name}-{pool}", "namespace": "ns"}
    body = {"replicas": replicas, "template": {"spec": {"version": version}}, **spec}
    if label:  # Cluster API's webhook labels a pool with its cluster; a template may give spec.clusterName only
        meta["labels"] = {"cluster.x-k8s.io/cluster-name": cluster_name}
    else:
        body["clusterName"] = cluster_name
    return {"metadata": meta, "spec": body}


def test_a_template_clusters_shape_is_its_control_plane_and_pools_in_the_topologys_form():
    shapes = sh.Shapes([kcp(), kcp("c2")], [md(), md(pool="md-1", replicas=0, label=True), md("c2")])
    got = shapes.of(cluster())
    assert got == {
        "version": "v1.30.0",
        "controlPlane": {"replicas": 1},
        "workers": {"machineDeployments": [{"name": "c1-md-0", "replicas": 2}, {"name": "c1-md-1", "replicas": 0}]},
    }
    assert sh.machines_wanted(got) == 3 and sh.machines_wanted(shapes.of(cluster("c2"))) == 3
    # The phases' classes read it as they read a topology.
    assert TABLE["scale_workers"].have(cluster(), got) == [0, 2]
    assert TABLE["upgrade"].differs(got, {"version": "v1.30.1"}) == "at v1.30.0"


def test_a_topology_is_its_own_shape_and_needs_no_objects():
    topo = {"version": "v1.35.4", "controlPlane": {"replicas": 3}, "workers": {"machineDeployments": [{"replicas": 1}]}}
    c = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"topology": topo}}
    assert sh.Shapes().of(c) is topo and sh.machines_wanted(topo) == 4 and not sh.templated(c)
    assert sh.machines_wanted({}) == 0


@pytest.mark.parametrize(
    ("kcp_", "mds", "version", "rollout"),
    [
        (kcp(version="v1.30.1"), [md()], "v1.30.0 and v1.30.1", None),  # part way: both named
        (kcp(rolloutAfter="2026-12-07T08:00:00Z"), [md()], "v1.30.0", "2026-12-07T08:00:00Z"),  # v1beta1
        (kcp(rollout={"after": "2026-12-07T08:00:00Z"}), [], "v1.30.0", "2026-12-07T08:00:00Z"),  # v1beta2
    ],
)
def test_versions_that_disagree_and_a_rollout_after_are_read(kcp_, mds, version, rollout):
    got = sh.Shapes([kcp_], mds).of(cluster())
    assert got["version"] == version
    assert (got["controlPlane"].get("rollout") or {}).get("after") == rollout
    assert TABLE["rollout"].differs(got, {}) == (None if rollout else "no rollout.after")


@pytest.mark.parametrize(("c", "named"), [(cluster(), "KubeadmControlPlane c1"), (cluster(ref=False), "object")])
def test_a_template_cluster_without_its_control_plane_is_refused_naming_it(c, named):
    with pytest.raises(SetError, match=f"Cluster ns/c1 has neither spec.topology nor its control plane {named}"):
        sh.Shapes([], [md()]).of(c)


@pytest.mark.parametrize(
    ("phase", "p", "api", "kcp_patch", "md_patch"),
    [
        ("upgrade", {"version": "v1.31.1"}, V1,
         {"spec": {"version": "v1.31.1"},
          "metadata": {"annotations": {"scalelab.io/created-shape": '{"spec.version": "v1.30.0"}'}}},
         {"spec": {"template": {"spec": {"version": "v1.31.1"}}},
          "metadata": {"annotations": {"scalelab.io/created-shape": '{"spec.template.spec.version": "v1.30.0"}'}}}),
        ("rollout", {}, V1, {"spec": {"rolloutAfter": "2026-12-07T08:00:00Z"}},
         {"spec": {"rolloutAfter": "2026-12-07T08:00:00Z"}}),
        ("rollout", {}, V2, {"spec": {"rollout": {"after": "2026-12-07T08:00:00Z"}}},
         {"spec": {"rollout": {"after": "2026-12-07T08:00:00Z"}}}),
        ("scale_workers", {"replicas": 3}, V1, None,
         {"spec": {"replicas": 3},
          "metadata": {"annotations": {"scalelab.io/created-shape": '{"spec.replicas": "2"}'}}}),
        ("soak", {"seconds": 180}, V1, None, None),
    ],
)  # fmt: skip
def test_each_phase_patches_the_control_plane_and_pools_it_changes(phase, p, api, kcp_patch, md_patch):
    got = sh.patches(sh.Shapes([kcp()], [md()]), cluster(), phase, p, AT, api)
    want = []
    if kcp_patch:
        want.append(("KubeadmControlPlane", "ns", "c1", api["KubeadmControlPlane"], kcp_patch))
    if md_patch:
        want.append(("MachineDeployment", "ns", "c1-md-0", api["MachineDeployment"], md_patch))
    assert got == want


def test_an_object_already_as_wanted_is_left_alone_and_the_created_shape_is_kept_once():
    # The pool upgraded already (a resumed run): only the control plane is patched.
    got = sh.patches(sh.Shapes([kcp()], [md(version="v1.31.1")]), cluster(), "upgrade", {"version": "v1.31.1"}, AT, V1)
    assert [patch[0] for patch in got] == ["KubeadmControlPlane"]
    # Scaled after an upgrade: the created version stays, the created replicas join it.
    upgraded = {"scalelab.io/created-shape": '{"spec.template.spec.version": "v1.30.0"}'}
    pool = md(version="v1.31.1")
    pool["metadata"]["annotations"] = upgraded
    [scaled] = sh.patches(sh.Shapes([kcp()], [pool]), cluster(), "scale_workers", {"replicas": 3}, AT, V1)
    created = json.loads(scaled[-1]["metadata"]["annotations"]["scalelab.io/created-shape"])
    assert created == {"spec.template.spec.version": "v1.30.0", "spec.replicas": "2"}


def test_a_re_run_of_the_scenario_knows_the_set_a_phase_changed():
    # cluster_bulk compares what it would create with what exists: a changed pool is the same set when its created
    # shape is what the run wants, another set when not.
    wanted = md()
    found = md(version="v1.31.1", replicas=3)
    assert len(shape_differences(wanted, found)) == 2
    found["metadata"]["annotations"] = {
        "scalelab.io/created-shape": '{"spec.replicas": "2", "spec.template.spec.version": "v1.30.0"}'
    }
    assert shape_differences(wanted, found) == []
    assert shape_differences(md(replicas=5), found) == ["spec.replicas is 3, wanted 5"]
    # An annotation edited into something else is no created shape: the set differs, nothing breaks.
    for bad in ("not json", '["spec.replicas"]'):
        found["metadata"]["annotations"]["scalelab.io/created-shape"] = bad
        assert len(shape_differences(wanted, found)) == 2
        [scaled] = sh.patches(sh.Shapes([kcp()], [found]), cluster(), "scale_workers", {"replicas": 4}, AT, V1)
        assert json.loads(scaled[-1]["metadata"]["annotations"]["scalelab.io/created-shape"]) == {"spec.replicas": "3"}


def test_an_unknown_phase_is_refused():
    with pytest.raises(SetError, match="phase=delete"):
        sh.patches(sh.Shapes([kcp()], [md()]), cluster(), "delete", {}, AT, V1)


def test_each_kind_rolls_out_in_its_own_contract_and_a_written_rollout_after_is_kept():
    mixed = {**V1, "KubeadmControlPlane": V2["KubeadmControlPlane"]}
    got = sh.patches(sh.Shapes([kcp()], [md()]), cluster(), "rollout", {}, AT, mixed)
    assert [(kind, patch["spec"]) for kind, _ns, _name, _api, patch in got] == [
        ("KubeadmControlPlane", {"rollout": {"after": "2026-12-07T08:00:00Z"}}),
        ("MachineDeployment", {"rolloutAfter": "2026-12-07T08:00:00Z"}),
    ]
    written = sh.Shapes([kcp(rolloutAfter="2026-12-07T07:00:00Z")], [md(rolloutAfter="2026-12-07T07:00:00Z")])
    assert sh.patches(written, cluster(), "rollout", {}, AT, V1) == []


@pytest.mark.parametrize(
    ("phase", "created", "unmarked"),
    [
        ("upgrade", '{"spec.version": "v1.30.0"}', True),  # a stopped run upgraded it
        ("upgrade", None, False),  # created at the version: nothing was changed
        ("scale_workers", '{"spec.version": "v1.30.0"}', False),  # an upgrade's, not a scale's
        ("scale_workers", '{"spec.replicas": "2"}', True),
        ("upgrade", "not json", False),
        ("rollout", '{"spec.version": "v1.30.0"}', False),  # a rollout is marked once, read from the mark
    ],
)
def test_a_template_cluster_changed_by_a_stopped_run_is_still_to_mark(phase, created, unmarked):
    control_plane = kcp(annotations={"scalelab.io/created-shape": created} if created else None)
    assert sh.changed_unmarked(sh.Shapes([control_plane], [md()]), cluster(), phase) is unmarked
