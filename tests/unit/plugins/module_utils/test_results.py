from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils import results, timeline
from ansible_collections.scalelab.capi.plugins.module_utils.kube import KubeError

EPOCH0 = 1795467000.0
CORE = "cluster.x-k8s.io/v1beta2"
CP = "controlplane.cluster.x-k8s.io/v1beta2"


def at(seconds: float) -> str:
    return timeline.format_time(EPOCH0 + seconds)


def capi(kind, name, created, ready_after=None, labels=None, namespace="default", api_version=CORE, **extra):
    ready_type = "Ready" if kind == "Machine" else "Available"
    if ready_after is None:
        conds = [{"type": ready_type, "status": "False", "reason": "Waiting", "lastTransitionTime": at(created)}]
    else:
        conds = [{"type": ready_type, "status": "True", "lastTransitionTime": at(created + ready_after)}]
    o = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": at(created), "labels": labels or {}},
        "status": {"conditions": conds, **({"nodeRef": {"name": name}} if kind == "Machine" else {})},
    }
    o.update(extra)
    return o


class FakeClient:
    """served_versions/path/list_pages over in-memory objects; labelSelector k=v only, pages of `limit`."""

    server = "https://fake"

    def __init__(self, objects, groups=None):
        self.objects = objects
        if groups is None:
            groups = {"cluster.x-k8s.io": ["v1beta2", "v1beta1"], "controlplane.cluster.x-k8s.io": ["v1beta2"]}
        self.groups = groups
        self.lists = []

    def served_versions(self, group):
        return self.groups.get(group, [])

    def path(self, api_version, kind):
        if kind == "KubeadmControlPlane" and not api_version.startswith("controlplane."):
            raise KubeError("not served", status=404)
        return f"{api_version}/{kind}"

    def list_pages(self, path, label_selector="", limit=500):
        self.lists.append((path, label_selector, limit))
        kind = path.rsplit("/", 1)[1]
        items = [o for o in self.objects if o["kind"] == kind]
        if label_selector:
            k, v = label_selector.split("=")
            items = [o for o in items if o["metadata"]["labels"].get(k) == v]
        for i in range(0, len(items), limit):
            yield [json.loads(json.dumps(o)) for o in items[i : i + limit]]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def lab():
    objs = []
    for i in range(12):
        name = f"scale-{i:04d}"
        objs.append(capi("Cluster", name, i, None if i == 11 else 10 + i, labels={"scalelab.io/set": "scale"}))
        objs.append(
            capi("KubeadmControlPlane", name, i, 5, api_version=CP, labels={"cluster.x-k8s.io/cluster-name": name})
        )
        objs.append(capi("Machine", f"{name}-cp", i + 1, 8, spec={"clusterName": name}))
    # Another set's cluster and machine, and a Machine of ours found by its owner reference only.
    objs.append(capi("Cluster", "other", 0, 1, labels={"scalelab.io/set": "other"}))
    objs.append(capi("Machine", "other-cp", 0, 1, labels={"cluster.x-k8s.io/cluster-name": "other"}))
    owned = capi("Machine", "owned", 3, 2)
    owned["metadata"]["ownerReferences"] = [{"kind": "Cluster", "name": "scale-0001"}]
    objs.append(owned)
    return objs


def params(tmp_path, **kw):
    p = {
        "context": "",
        "kinds": ["Cluster", "KubeadmControlPlane", "MachineDeployment", "Machine"],
        "kubeconfig": "/nonexistent",
        "label_selector": "scalelab.io/set=scale",
        "markdown_path": str(tmp_path / "scale.md"),
        "metadata": {"set": "scale", "versions": {"cluster-api": "v1.14.2"}},
        "page_size": 5,
        "path": str(tmp_path / "scale.json"),
    }
    p.update(kw)
    return p


def test_gather_selects_by_set_then_by_cluster(tmp_path):
    client = FakeClient(lab())
    doc = results.gather(client, params(tmp_path))
    assert sorted(doc) == ["api_version", "kinds", "run", "schema", "summary"]
    assert doc["schema"] == 1
    assert doc["run"] == {"set": "scale", "versions": {"cluster-api": "v1.14.2"}}
    assert doc["api_version"] == {
        "Cluster": CORE,
        "KubeadmControlPlane": CP,
        "MachineDeployment": CORE,
        "Machine": CORE,
    }
    k = doc["kinds"]
    assert (k["Cluster"]["count"], k["Cluster"]["ready"], k["Cluster"]["not_ready"]) == (12, 11, 1)
    assert k["Cluster"]["not_ready_objects"][0]["name"] == "scale-0011"
    assert k["KubeadmControlPlane"]["count"] == 12
    assert k["Machine"]["count"] == 13  # 12 by spec.clusterName, 1 by owner reference, none of "other"
    assert k["MachineDeployment"]["count"] == 0
    assert doc["summary"] == {
        "clusters": 12,
        "clusters_ready": 11,
        "cluster_p50_seconds": 15.0,
        "cluster_p90_seconds": 19.0,
        "cluster_p99_seconds": 19.9,
        "cluster_max_seconds": 20.0,
        "drift_pct": 100.0,
    }
    # Server-side selection for Clusters only, pages of page_size.
    assert (f"{CORE}/Cluster", "scalelab.io/set=scale", 5) in client.lists
    assert (f"{CORE}/Machine", "", 5) in client.lists


def test_gather_without_selector_reports_everything(tmp_path):
    doc = results.gather(FakeClient(lab()), params(tmp_path, label_selector=""))
    assert doc["kinds"]["Cluster"]["count"] == 13
    assert doc["kinds"]["Machine"]["count"] == 14


@pytest.mark.parametrize(
    ("groups", "kinds", "expected_versions"),
    [
        ({}, ["Cluster", "Machine"], {"Cluster": None, "Machine": None}),
        (
            {"cluster.x-k8s.io": ["v1beta1"], "controlplane.cluster.x-k8s.io": []},
            ["KubeadmControlPlane"],
            {"KubeadmControlPlane": None},
        ),
        ({"cluster.x-k8s.io": ["v1beta1"]}, ["Machine"], {"Machine": "cluster.x-k8s.io/v1beta1"}),
    ],
)
def test_gather_unserved_groups_are_empty(tmp_path, groups, kinds, expected_versions):
    doc = results.gather(FakeClient([], groups=groups), params(tmp_path, kinds=kinds))
    assert doc["api_version"] == expected_versions
    assert all(r["count"] == 0 for r in doc["kinds"].values())
    assert doc["summary"]["clusters"] == 0
    assert doc["summary"]["cluster_p50_seconds"] is None


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"page_size": 0}, "page_size=0 must be >= 1"),
        ({"kinds": ["Node"]}, r"kinds=\['Node'\]"),
    ],
)
def test_gather_rejects(tmp_path, override, match):
    with pytest.raises(results.ResultsError, match=match):
        results.gather(FakeClient([]), params(tmp_path, **override))


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"metadata": {"namespace": "ns", "labels": {"cluster.x-k8s.io/cluster-name": "a"}}}, ("ns", "a")),
        ({"metadata": {"namespace": "ns"}, "spec": {"clusterName": "b"}}, ("ns", "b")),
        ({"metadata": {"namespace": "ns", "ownerReferences": [{"kind": "Cluster", "name": "c"}]}}, ("ns", "c")),
        ({"metadata": {"ownerReferences": [{"kind": "MachineSet", "name": "x"}]}}, ("", "")),
    ],
)
def test_owner_cluster(obj, expected):
    assert results.owner_cluster(obj) == expected


def test_markdown_renders_tables(tmp_path):
    doc = results.gather(FakeClient(lab()), params(tmp_path))
    doc["kinds"]["Cluster"]["not_ready_objects"][0]["condition"]["message"] = "a | b\nc"
    md = results.markdown(doc)
    assert md.startswith("# Scale results\n")
    assert "- **set**: scale" in md
    assert '- **versions**: `{"cluster-api": "v1.14.2"}`' in md
    assert "| clusters | ready | P50 s | P90 s | P99 s | max s | drift |" in md
    assert "| 12 | 11 | 15.0 | 19.0 | 19.9 | 20.0 | +100.0% |" in md
    assert "## KubeadmControlPlane" in md
    assert "API: not served" not in md
    assert "| 12 | 11 | 1 | 15.0 | 19.0 | 19.9 | 20.0 | +100.0% (10.0 s -> 20.0 s, 1 each) |" in md
    assert "| default/scale-0011 | Available | Waiting | a \\| b c |" in md
    assert md.count("| object | condition | reason | message |") == 1  # only Clusters have failures
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_markdown_empty_and_unserved(tmp_path):
    doc = results.gather(FakeClient([], groups={}), params(tmp_path, metadata={}))
    md = results.markdown(doc)
    assert "## Run" not in md
    assert "| 0 | 0 | - | - | - | - | - |" in md
    assert md.count("API: not served") == 4


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        (None, '{"a": 1}\n', True),
        ('{"a": 1}\n', '{"a": 1}\n', False),
        ('{\n  "a": 1\n}', '{"a": 1}\n', False),  # equal JSON, other formatting
        ('{"a": 1}\n', '{"a": 2}\n', True),
        ("# report\n", "# report\n", False),
        ("# report\n", "# report 2\n", True),
        ("not json", '{"a": 1}\n', True),
    ],
)
def test_write_if_changed(tmp_path, old, new, changed):
    path = tmp_path / "out"
    if old is not None:
        path.write_text(old)
    before = path.read_text() if old is not None else None
    assert results.write_if_changed(str(path), new, check_mode=True) is changed
    assert (path.read_text() if path.exists() else None) == before  # check mode writes nothing
    assert results.write_if_changed(str(path), new) is changed
    if changed:
        assert path.read_text() == new
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert results.write_if_changed(str(path), new) is False
    assert os.listdir(tmp_path) == ["out"]  # no temporary file left


def test_write_if_changed_missing_directory(tmp_path):
    with pytest.raises(OSError):
        results.write_if_changed(str(tmp_path / "no" / "out.json"), "{}")


def test_run_is_idempotent_and_honours_check_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "KubeClient", lambda *a, **kw: FakeClient(lab()))
    p = params(tmp_path)
    changed, result, diff = results.run(p, check_mode=True)
    assert changed is True
    assert not os.path.exists(p["path"])
    assert diff["before"] == {} and diff["after"]["clusters"] == 12
    changed, result, _ = results.run(p, check_mode=False)
    assert changed is True
    assert json.loads((tmp_path / "scale.json").read_text())["summary"]["clusters_ready"] == 11
    assert (tmp_path / "scale.md").read_text().startswith("# Scale results")
    assert result["path"] == p["path"] and result["markdown_path"] == p["markdown_path"]
    assert result["report"]["summary"]["clusters"] == 12
    assert result["seconds"] >= 0
    changed, _, diff = results.run(p, check_mode=False)
    assert changed is False
    assert diff["before"] == diff["after"]


def test_run_names_the_option(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "KubeClient", lambda *a, **kw: FakeClient(lab()))
    with pytest.raises(results.ResultsError, match="^path=.*cannot write"):
        results.run(params(tmp_path, path=str(tmp_path / "no" / "x.json")), check_mode=False)


def test_returned_cuts_object_lists():
    doc = {"kinds": {"Cluster": {"not_ready_objects": list(range(30)), "count": 30}}, "summary": {}}
    assert results.returned(doc)["kinds"]["Cluster"] == {"not_ready_objects": [0, 1, 2, 3, 4], "count": 30}
    assert len(doc["kinds"]["Cluster"]["not_ready_objects"]) == 30


@pytest.mark.parametrize(("status", "raises"), [(404, False), (403, True)])
def test_gather_kind_missing_from_served_group(tmp_path, status, raises):
    class Client(FakeClient):
        def path(self, api_version, kind):
            if kind == "MachineDeployment":
                raise KubeError("MachineDeployment is not served", status=status)
            return super().path(api_version, kind)

    p = params(tmp_path, kinds=["MachineDeployment"])
    if raises:
        with pytest.raises(KubeError):
            results.gather(Client(lab()), p)
    else:
        assert results.gather(Client(lab()), p)["kinds"]["MachineDeployment"]["count"] == 0
