from __future__ import annotations

import contextlib

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.kube.retry import RetryPolicy
from ansible_collections.scalelab.capi.plugins.module_utils.sets import phase_ops
from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import SetError
from ansible_collections.scalelab.capi.plugins.module_utils.sets.engine import BulkResult
from ansible_collections.scalelab.capi.plugins.module_utils.sets.shapes import Shapes


def cluster(name="c1", version="v1.35.4", pools=(("md-0", 0),), annotations=None, topology=True):
    spec = {}
    if topology:
        spec["topology"] = {
            "version": version,
            "controlPlane": {"replicas": 1},
            "workers": {"machineDeployments": [{"class": "w", "name": n, "replicas": r} for n, r in pools]},
        }
    return {"kind": "Cluster", "metadata": {"name": name, "namespace": "ns", "annotations": annotations or {}},
            "spec": spec}  # fmt: skip


UP = {"phase": "upgrade", "version": "v1.35.5"}
SCALE = {"phase": "scale_workers", "replicas": 2}
ROLL = {"phase": "rollout"}
ROLLED = {"scalelab.io/rollout-started": "2026-12-06T06:00:00.000000Z"}


@pytest.mark.parametrize(
    ("p", "clusters", "todo", "before"),
    [
        (UP, [cluster(), cluster("c2", version="v1.35.5")], ["c1"], {"v1.35.4": 1, "v1.35.5": 1}),
        (UP, [cluster(version="v1.35.5")], [], {"v1.35.5": 1}),  # a re-run: nothing to change
        (SCALE, [cluster(), cluster("c2", pools=(("md-0", 2),))], ["c1"], {"0": 1, "2": 1}),
        # Pools that disagree are changed, and shown as their distinct replicas.
        (SCALE, [cluster(pools=(("md-0", 2), ("md-1", 1)))], ["c1"], {"[1, 2]": 1}),
        (SCALE, [cluster(pools=(("md-0", 2), ("md-1", 2)))], [], {"2": 1}),
        # Once per set: a Cluster with the rollout's mark is left alone.
        (ROLL, [cluster(), cluster("c2", annotations=ROLLED)], ["c1"], {"not rolled out": 1, "rolled out": 1}),
        (ROLL, [cluster(annotations=ROLLED)], [], {"rolled out": 1}),
    ],
)
def test_plan_changes_only_the_clusters_not_as_wanted(p, clusters, todo, before):
    got, seen = phase_ops.plan(clusters, p, Shapes())
    assert [c["metadata"]["name"] for c in got] == todo and seen == before
    # The diff's after: every cluster as wanted, the counts kept.
    assert phase_ops.after(seen, got, p, Shapes()) == {str(phase_ops.want(p)): len(clusters)}


@pytest.mark.parametrize(
    ("p", "c", "message"),
    [
        (UP, cluster(topology=False), "Cluster ns/c1 has neither spec.topology nor its control plane object"),
        (SCALE, cluster(pools=()), "phase=scale_workers: Cluster ns/c1 has no worker pool"),
    ],
)
def test_plan_refuses_a_set_it_cannot_change_naming_a_cluster(p, c, message):
    with pytest.raises(SetError, match=message):
        phase_ops.plan([c], p, Shapes())


def test_the_patch_marks_the_phase_and_keeps_what_the_cluster_was_created_with_once():
    body = phase_ops._patch(cluster(pools=(("md-0", 0), ("md-1", 1))), SCALE, 0.0, Shapes())
    pools = body["spec"]["topology"]["workers"]["machineDeployments"]
    assert pools == [{"class": "w", "name": "md-0", "replicas": 2}, {"class": "w", "name": "md-1", "replicas": 2}]
    marks = body["metadata"]["annotations"]
    assert marks == {"scalelab.io/scale_workers-started": "1970-01-01T00:00:00.000000Z",
                     "scalelab.io/created-workers": '[["md-0", "0"], ["md-1", "1"]]'}  # fmt: skip
    # Scaled again later: the created shape stays the first one.
    again = phase_ops._patch(cluster(annotations={"scalelab.io/created-workers": "x"}), SCALE, 0.0, Shapes())
    assert "scalelab.io/created-workers" not in again["metadata"]["annotations"]
    # A rollout: the control plane's and every pool's rollout.after (whole seconds, a pool's strategy kept).
    c = cluster(pools=(("md-0", 1), ("md-1", 0)))
    c["spec"]["topology"]["workers"]["machineDeployments"][0]["rollout"] = {"strategy": {"type": "OnDelete"}}
    roll = phase_ops._patch(c, ROLL, 0.5, Shapes())
    at = "1970-01-01T00:00:00Z"
    assert roll["spec"]["topology"]["controlPlane"] == {"rollout": {"after": at}}
    assert [md["rollout"] for md in roll["spec"]["topology"]["workers"]["machineDeployments"]] == [
        {"strategy": {"type": "OnDelete"}, "after": at},
        {"after": at},
    ]
    assert roll["metadata"]["annotations"] == {"scalelab.io/rollout-started": "1970-01-01T00:00:00.500000Z"}
    assert "workers" not in phase_ops._patch(cluster(pools=()), ROLL, 0.0, Shapes())["spec"]["topology"]
    up = phase_ops._patch(cluster(), UP, 0.0, Shapes())
    assert up["spec"] == {"topology": {"version": "v1.35.5"}}
    assert up["metadata"]["annotations"]["scalelab.io/created-version"] == "v1.35.4"


@pytest.mark.parametrize(
    ("p", "message"),
    [
        ({"phase": "upgrade", "version": ""}, "version='': phase=upgrade needs the version"),
        ({"phase": "scale_workers", "replicas": None}, "replicas=None: phase=scale_workers needs the worker replicas"),
        ({"phase": "scale_workers", "replicas": -1}, "replicas=-1: phase=scale_workers"),
    ],
)
def test_bad_options_are_refused_before_any_call(p, message):
    with pytest.raises(SetError, match=message):
        phase_ops.run({"name": "s", "batch_size": 0, "batch_pause": 0, **p}, check_mode=False)


def test_a_soak_mark_takes_no_seconds_so_none_are_checked_here():
    # The soak's seconds are its wait's and scale_results' option: cluster_phase reaches the API (and fails on the
    # unreachable kubeconfig) instead of refusing a target it does not take.
    with pytest.raises(Exception) as e:
        phase_ops.run({"name": "s", "phase": "soak", "kubeconfig": "/nonexistent", "batch_size": 0, "batch_pause": 0,
                       "version": "", "replicas": None}, check_mode=False)  # fmt: skip
    assert "seconds" not in str(e.value)


def kcp(name="c1", version="v1.35.4", replicas=1, **spec):
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": {"replicas": replicas, "version": version, **spec}}


def md(cluster_name="c1", name="md-0", version="v1.35.4", replicas=0):
    spec = {"clusterName": cluster_name, "replicas": replicas, "template": {"spec": {"version": version}}}
    return {"metadata": {"name": f"{cluster_name}-{name}", "namespace": "ns"}, "spec": spec}


def template(name="c1"):
    c = cluster(name, topology=False)
    c["spec"]["controlPlaneRef"] = {"kind": "KubeadmControlPlane", "name": name}
    return c


@pytest.mark.parametrize(
    ("p", "kcps", "mds", "todo", "before"),
    [
        # The control plane or a pool behind is an upgrade to do; the versions each named.
        (UP, [kcp(), kcp("c2", "v1.35.5")], [md(), md("c2", version="v1.35.4")], ["c1", "c2"],
         {"v1.35.4": 1, "v1.35.4 and v1.35.5": 1}),
        (UP, [kcp(version="v1.35.5")], [md(version="v1.35.5")], [], {"v1.35.5": 1}),
        (SCALE, [kcp()], [md(replicas=2), md(name="md-1", replicas=1)], ["c1"], {"[1, 2]": 1}),
        (SCALE, [kcp()], [md(replicas=2)], [], {"2": 1}),
    ],
)  # fmt: skip
def test_a_template_set_is_planned_from_its_control_planes_and_pools(p, kcps, mds, todo, before):
    clusters = [template(k["metadata"]["name"]) for k in kcps]
    got, seen = phase_ops.plan(clusters, p, Shapes(kcps, mds))
    assert [c["metadata"]["name"] for c in got] == todo and seen == before


def test_a_template_clusters_own_patch_is_its_mark_and_what_it_was_created_with():
    shapes = Shapes([kcp()], [md()])
    up = phase_ops._patch(template(), UP, 0.0, shapes)
    assert "spec" not in up  # the change is on its control plane and pools (shapes.patches)
    assert up["metadata"]["annotations"] == {"scalelab.io/upgrade-started": "1970-01-01T00:00:00.000000Z",
                                             "scalelab.io/created-version": "v1.35.4"}  # fmt: skip


class FakeClient:
    """The client's reads shapes.read makes: a kind's path, its one page by the set's label."""

    server = "https://fake"

    def __init__(self, objects: dict[str, list[dict]]):
        self.objects = objects

    def served_versions(self, group):
        return ["v1beta1"]

    def path(self, api_version, kind):
        return kind

    def list_pages(self, path, label_selector="", **kw):
        yield [dict(o) for o in self.objects.get(path, [])]


class FakeBulk:
    """Bulk's surface phase_ops.run uses, over objects in memory: every write recorded with the tokens taken before
    it (the limiter's acquire)."""

    def __init__(self, objects: dict[str, list[dict]], fail_kind: str = ""):
        self.client, self.objects, self.fail_kind = FakeClient(objects), objects, fail_kind
        self.policy = RetryPolicy()
        self.tokens, self.writes = 0, []

    def listed(self, api_version, kind, set_name):
        return [dict(o) for o in self.objects.get(kind, [])]

    def patch(self, key, api_version, body, acquire):
        acquire()
        if key[0] == self.fail_kind:
            raise KubeError(f"{key[0]} refused")
        self.writes.append((key, api_version, body, self.tokens))
        return "patched", 0.001

    def batches(self, jobs, fn, label, size, pause):
        total = BulkResult()

        def take():
            self.tokens += 1

        for job in jobs:
            try:
                total.record(fn(job, take))
            except KubeError as e:
                total.fail(label(job), str(e))
        return total

    def first_write(self):
        return ""


def run_on(monkeypatch, bulk, p):
    @contextlib.contextmanager
    def connected(params, probe):
        yield bulk, "cluster.x-k8s.io/v1beta1"

    monkeypatch.setattr(phase_ops, "connected", connected)
    return phase_ops.run({"name": "s", "batch_size": 0, "batch_pause": 0, **p}, check_mode=False)


def test_a_template_cluster_is_written_control_plane_and_pools_first_its_mark_last(monkeypatch):
    bulk = FakeBulk({"Cluster": [template()], "KubeadmControlPlane": [kcp()], "MachineDeployment": [md()]})
    changed, state = run_on(monkeypatch, bulk, UP)
    assert changed and state["clusters"]["changed"] == 1
    kinds = [(key[0], api) for key, api, _body, _tokens in bulk.writes]
    assert kinds == [("KubeadmControlPlane", "controlplane.cluster.x-k8s.io/v1beta1"),
                     ("MachineDeployment", "cluster.x-k8s.io/v1beta1"),
                     ("Cluster", "cluster.x-k8s.io/v1beta1")]  # fmt: skip
    # Every token taken before the first write: the mark's time is after the limiter let all three through.
    assert [tokens for *_rest, tokens in bulk.writes] == [3, 3, 3]
    assert "scalelab.io/upgrade-started" in bulk.writes[-1][2]["metadata"]["annotations"]


def test_a_template_set_rolls_out_on_v1beta1_and_a_run_stopped_before_the_mark_resumes(monkeypatch):
    # The first run's mark write fails: the control plane and pool are upgraded, the Cluster is not marked.
    objects = {"Cluster": [template()], "KubeadmControlPlane": [kcp()], "MachineDeployment": [md()]}
    bulk = FakeBulk(objects, fail_kind="Cluster")
    with pytest.raises(phase_ops.BulkFailed):
        run_on(monkeypatch, bulk, UP)
    # What the API now holds: both at the version, with what they had kept.
    done_kcp = kcp(version="v1.35.5")
    done_kcp["metadata"]["annotations"] = {"scalelab.io/created-shape": '{"spec.version": "v1.35.4"}'}
    done_md = md(version="v1.35.5")
    again = FakeBulk({"Cluster": [template()], "KubeadmControlPlane": [done_kcp], "MachineDeployment": [done_md]})
    changed, state = run_on(monkeypatch, again, UP)
    # Only the mark is written: nothing to change, the Cluster still to mark.
    assert changed and [w[0][0] for w in again.writes] == ["Cluster"], again.writes
    # A rollout of a template set (v1beta1 rolloutAfter on both), where a ClusterClass set's would be refused; a
    # rolloutAfter an interrupted run wrote is kept (a new one would replace the Machines again).
    rolled_kcp = kcp(rolloutAfter="2026-12-07T08:00:00Z")
    roll = FakeBulk({"Cluster": [template()], "KubeadmControlPlane": [rolled_kcp], "MachineDeployment": [md()]})
    run_on(monkeypatch, roll, ROLL)
    assert [w[0][0] for w in roll.writes] == ["MachineDeployment", "Cluster"]
    assert set(roll.writes[0][2]["spec"]) == {"rolloutAfter"}
    with pytest.raises(SetError, match="a rollout of a ClusterClass set needs the v1beta2 contract"):
        run_on(monkeypatch, FakeBulk({"Cluster": [cluster()]}), ROLL)
