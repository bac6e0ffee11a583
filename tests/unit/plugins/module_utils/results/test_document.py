from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.kube.client import KubeError
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, timeline

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
    doc = document.gather(client, params(tmp_path))
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
    doc = document.gather(FakeClient(lab()), params(tmp_path, label_selector=""))
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
    doc = document.gather(FakeClient([], groups=groups), params(tmp_path, kinds=kinds))
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
    with pytest.raises(document.ResultsError, match=match):
        document.gather(FakeClient([]), params(tmp_path, **override))


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
    assert document.owner_cluster(obj) == expected


def assert_text(text, has=(), lacks=()):
    """text holds every part of has and none of lacks; a failure names all that are off."""
    assert [part for part in has if part not in text] == []
    assert [part for part in lacks if part in text] == []


def test_markdown_renders_tables(tmp_path):
    doc = document.gather(FakeClient(lab()), params(tmp_path))
    doc["kinds"]["Cluster"]["not_ready_objects"][0]["condition"]["message"] = "a | b\nc"
    md = document.markdown(doc)
    assert md.startswith("# Scale results\n")
    assert_text(
        md,
        has=[
            "- **set**: scale",
            '- **versions**: `{"cluster-api": "v1.14.2"}`',
            "| clusters | ready | P50 s | P90 s | P99 s | max s | drift |",
            "| 12 | 11 | 15.0 | 19.0 | 19.9 | 20.0 | +100.0% |",
            "## KubeadmControlPlane",
            "| 12 | 11 | 1 | 15.0 | 19.0 | 19.9 | 20.0 | +100.0% (10.0 s -> 20.0 s, 1 each) |",
            "| default/scale-0011 | Available | Waiting | a \\| b c |",
        ],
        lacks=["API: not served"],
    )
    assert md.count("| object | condition | reason | message |") == 1  # only Clusters have failures
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_markdown_empty_and_unserved(tmp_path):
    doc = document.gather(FakeClient([], groups={}), params(tmp_path, metadata={}))
    md = document.markdown(doc)
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
        # Bytes (a plot) are compared byte for byte.
        (None, b"\x89PNG\x00\x01", True),
        (b"\x89PNG\x00\x01", b"\x89PNG\x00\x01", False),
        (b"\x89PNG\x00\x01", b"\x89PNG\x00\x02", True),
    ],
)
def test_write_if_changed(tmp_path, old, new, changed):
    path = tmp_path / "out"
    if old is not None:
        path.write_bytes(old if isinstance(old, bytes) else old.encode())
    before = path.read_bytes() if old is not None else None
    assert document.write_if_changed(str(path), new, check_mode=True) is changed
    assert (path.read_bytes() if path.exists() else None) == before  # check mode writes nothing
    assert document.write_if_changed(str(path), new) is changed
    if changed:
        assert path.read_bytes() == (new if isinstance(new, bytes) else new.encode())
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert document.write_if_changed(str(path), new) is False
    assert os.listdir(tmp_path) == ["out"]  # no temporary file left


def test_write_if_changed_makes_a_missing_directory_and_fails_where_none_can_be(tmp_path):
    assert document.write_if_changed(str(tmp_path / "no" / "out.json"), "{}", check_mode=True) is True
    assert not (tmp_path / "no").exists()
    assert document.write_if_changed(str(tmp_path / "no" / "out.json"), "{}") is True
    assert stat.S_IMODE((tmp_path / "no").stat().st_mode) == 0o755
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        document.write_if_changed(str(tmp_path / "file" / "out.json"), "{}")


def test_run_is_idempotent_and_honours_check_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(lab()))
    p = params(tmp_path)
    changed, result, diff = document.run(p, check_mode=True)
    assert changed is True
    assert not os.path.exists(p["path"])
    assert diff["before"] == {} and diff["after"]["clusters"] == 12
    changed, result, _dummy = document.run(p, check_mode=False)
    assert changed is True
    assert json.loads((tmp_path / "scale.json").read_text())["summary"]["clusters_ready"] == 11
    assert (tmp_path / "scale.md").read_text().startswith("# Scale results")
    assert result["path"] == p["path"] and result["markdown_path"] == p["markdown_path"]
    assert result["report"]["summary"]["clusters"] == 12
    assert result["seconds"] >= 0
    changed, _dummy, diff = document.run(p, check_mode=False)
    assert changed is False
    assert diff["before"] == diff["after"]


def test_run_names_the_option(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(lab()))
    (tmp_path / "file").write_text("x")  # a directory cannot be made under a file
    with pytest.raises(document.ResultsError, match="^path=.*cannot write"):
        document.run(params(tmp_path, path=str(tmp_path / "file" / "x.json")), check_mode=False)


def test_returned_cuts_object_lists():
    doc = {"kinds": {"Cluster": {"not_ready_objects": list(range(30)), "count": 30}}, "summary": {}}
    assert document.returned(doc)["kinds"]["Cluster"] == {"not_ready_objects": [0, 1, 2, 3, 4], "count": 30}
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
            document.gather(Client(lab()), p)
    else:
        assert document.gather(Client(lab()), p)["kinds"]["MachineDeployment"]["count"] == 0


def bmh(name, created, state, inspect_end=None, provision=None, error="", labels=None):
    """A host of set "scale" created at `created` s, inspected until `inspect_end` s, provisioned (start, end) s."""
    history = {"register": {"start": at(created + 1), "end": at(created + 2)}}
    if inspect_end is not None:
        history["inspect"] = {"start": at(created + 2), "end": at(inspect_end)}
    if provision is not None:
        history["provision"] = {"start": at(provision[0]), "end": at(provision[1])}
    status = {"provisioning": {"state": state}, "operationHistory": history, "operationalStatus": "OK"}
    if error:
        status.update(errorType="inspection error", errorMessage=error, operationalStatus="error")
    return {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {
            "name": name,
            "namespace": "metal3",
            "creationTimestamp": at(created),
            "labels": {"scalelab.io/set": "scale"} if labels is None else labels,
        },
        "status": status,
    }


METAL3 = {"metal3.io": ["v1alpha1"]}


def hosts_lab():
    """10 hosts available 30 + i s after creation at i s (the first 2 then provisioned), 7 stuck, 1 of another set."""
    objs = []
    for i in range(10):
        prov = (i + 50, i + 50 + 100 + 10 * i) if i < 2 else None
        objs.append(bmh(f"h-{i:04d}", i, "provisioned" if prov else "available", i + 30 + i, prov))
    for i in range(10, 17):
        objs.append(bmh(f"h-{i:04d}", i, "inspecting", error="timeout | waiting\nfor IPA" if i == 10 else ""))
    objs.append(bmh("other", 0, "available", 5, labels={"scalelab.io/set": "other"}))
    return objs


def test_gather_hosts_only(tmp_path):
    client = FakeClient(hosts_lab(), groups=METAL3)
    doc = document.gather(client, params(tmp_path, kinds=["BareMetalHost"]))
    assert doc["api_version"] == {"BareMetalHost": "metal3.io/v1alpha1"}
    assert [path for path, _dummy, _dummy in client.lists] == ["metal3.io/v1alpha1/BareMetalHost"]  # no Cluster list
    assert client.lists[0][1] == "scalelab.io/set=scale"  # hosts carry the set label
    r = doc["kinds"]["BareMetalHost"]
    assert (r["count"], r["available"], r["provisioned"], r["stuck"]) == (17, 10, 2, 7)
    assert r["states"] == {"available": 8, "inspecting": 7, "provisioned": 2}
    # Host i: available 30 + 2i - i = 30 + i s after its creation; provisioned in 100 + 10i s.
    assert doc["summary"] == {
        "hosts": 17,
        "hosts_available": 10,
        "hosts_provisioned": 2,
        "host_available_p50_seconds": 34.5,
        "host_available_p90_seconds": 38.1,
        "host_available_p99_seconds": 38.91,
        "host_available_max_seconds": 39.0,
        "host_provision_p50_seconds": 105.0,
        "host_provision_p99_seconds": 109.9,
        "host_drift_pct": 30.0,
    }


def test_gather_hosts_unserved(tmp_path):
    doc = document.gather(FakeClient(hosts_lab(), groups={}), params(tmp_path, kinds=["BareMetalHost"]))
    assert doc["api_version"] == {"BareMetalHost": None}
    assert doc["summary"]["hosts"] == 0
    assert doc["summary"]["host_available_p50_seconds"] is None
    assert "clusters" not in doc["summary"]


def test_gather_clusters_and_hosts(tmp_path):
    groups = {"cluster.x-k8s.io": ["v1beta2"], "controlplane.cluster.x-k8s.io": ["v1beta2"], **METAL3}
    doc = document.gather(FakeClient(lab() + hosts_lab(), groups=groups), params(tmp_path, kinds=list(document.KINDS)))
    assert doc["summary"]["clusters"] == 12
    assert doc["summary"]["hosts"] == 17
    assert doc["summary"]["drift_pct"] == 100.0
    assert doc["summary"]["host_drift_pct"] == 30.0
    assert list(doc["kinds"]) == list(document.KINDS)


def _host_result(**kw):
    r = {
        "count": 4,
        "available": 3,
        "provisioned": 1,
        "time_to_available": {"count": 3, "mean": 20.0, "p50": 20.0, "p90": 28.0, "p99": 29.8, "max": 30.0},
        "drift": {"count": 3, "window": 1, "first_mean": 10.0, "last_mean": 30.0, "drift_pct": 200.0},
        "provision": {"count": 1, "mean": 90.0, "p50": 90.0, "p90": 90.0, "p99": 90.0, "max": 90.0},
    }
    r.update(kw)
    return r


HOST_SUMMARY = {
    "hosts": 4,
    "hosts_available": 3,
    "hosts_provisioned": 1,
    "host_available_p50_seconds": 20.0,
    "host_available_p90_seconds": 28.0,
    "host_available_p99_seconds": 29.8,
    "host_available_max_seconds": 30.0,
    "host_provision_p50_seconds": 90.0,
    "host_provision_p99_seconds": 90.0,
    "host_drift_pct": 200.0,
}
CLUSTER_RESULT = {
    "count": 2,
    "ready": 1,
    "time_to_ready": {"count": 1, "mean": 5.0, "p50": 5.0, "p90": 5.0, "p99": 5.0, "max": 5.0},
    "drift": {"count": 1, "window": 0, "first_mean": None, "last_mean": None, "drift_pct": None},
}
CLUSTER_SUMMARY = {
    "clusters": 2,
    "clusters_ready": 1,
    "cluster_p50_seconds": 5.0,
    "cluster_p90_seconds": 5.0,
    "cluster_p99_seconds": 5.0,
    "cluster_max_seconds": 5.0,
    "drift_pct": None,
}


@pytest.mark.parametrize(
    ("cluster_result", "host_result", "expected"),
    [
        (None, None, {}),
        (CLUSTER_RESULT, None, CLUSTER_SUMMARY),
        (None, _host_result(), HOST_SUMMARY),
        (CLUSTER_RESULT, _host_result(), {**CLUSTER_SUMMARY, **HOST_SUMMARY}),
        (
            None,
            _host_result(
                provisioned=0,
                provision={"count": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None},
                drift={"count": 3, "window": 1, "first_mean": 0.0, "last_mean": 30.0, "drift_pct": None},
            ),
            {
                **HOST_SUMMARY,
                "hosts_provisioned": 0,
                "host_provision_p50_seconds": None,
                "host_provision_p99_seconds": None,
                "host_drift_pct": None,
            },
        ),
    ],
)
def test_summary(cluster_result, host_result, expected):
    assert document.summary(cluster_result, host_result) == expected


def test_summary_host_result_defaults_to_none():
    assert document.summary(CLUSTER_RESULT) == CLUSTER_SUMMARY


def test_markdown_host_section(tmp_path):
    doc = document.gather(FakeClient(hosts_lab(), groups=METAL3), params(tmp_path, kinds=["BareMetalHost"]))
    md = document.markdown(doc)
    assert "| clusters |" not in md  # no Cluster API kind was asked for
    assert "| hosts | available | provisioned | to available P50 s | P99 s | drift | provision P50 s | P99 s |" in md
    assert "| 17 | 10 | 2 | 34.5 | 38.9 | +30.0% | 105.0 | 109.9 |" in md
    assert (
        "\n## BareMetalHost\n\nAPI: metal3.io/v1alpha1\n\nHosts per state: available 8, inspecting 7, provisioned 2\n"
        in md
    )
    assert "| creation -> available | 10 | 34.5 | 38.1 | 38.9 | 39.0 | +30.0% (30.0 s -> 39.0 s, 1 each) |" in md
    assert "| provisioning | 2 | 105.0 | 109.0 | 109.9 | 110.0 | +10.0% (100.0 s -> 110.0 s, 1 each) |" in md
    assert "| operation register | 17 | 1.0 | 1.0 | 1.0 | 1.0 | - |" in md
    assert "| operation inspect | 10 |" in md
    assert "operation deprovision" not in md
    assert f"First created {at(0)}, last available {at(39 + 9)}." in md
    assert "Not settled or in error:\n" in md  # all 7 are listed
    assert "| host | state | error type | message |" in md
    assert "| metal3/h-0010 | inspecting | inspection error | timeout \\| waiting for IPA |" in md
    assert "| metal3/h-0016 | inspecting | - | - |" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_markdown_host_section_cut_and_empty(tmp_path):
    doc = document.gather(FakeClient(hosts_lab(), groups=METAL3), params(tmp_path, kinds=["BareMetalHost"]))
    r = doc["kinds"]["BareMetalHost"]
    r["stuck_objects"] = r["stuck_objects"][:3]
    assert "Not settled or in error (3 of 7):" in document.markdown(doc)
    empty = document.gather(FakeClient([], groups={}), params(tmp_path, kinds=["BareMetalHost"]))
    assert_text(
        document.markdown(empty),
        has=[
            "API: not served",
            "Hosts per state: none",
            "| creation -> available | 0 | - | - | - | - | - |",
            "| provisioning | 0 | - | - | - | - | - |",
            "| 0 | 0 | 0 | - | - | - | - | - |",
        ],
        lacks=["First created", "Not settled"],
    )


def test_returned_cuts_stuck_hosts():
    doc = {
        "kinds": {
            "Cluster": {"not_ready_objects": list(range(8)), "count": 8},
            "BareMetalHost": {"stuck_objects": list(range(30)), "stuck": 30, "count": 40},
        },
        "summary": {"hosts": 40},
    }
    got = document.returned(doc)
    assert got["kinds"]["BareMetalHost"] == {"stuck_objects": [0, 1, 2, 3, 4], "stuck": 30, "count": 40}
    assert got["kinds"]["Cluster"]["not_ready_objects"] == [0, 1, 2, 3, 4]
    assert got["summary"] is doc["summary"]
    assert len(doc["kinds"]["BareMetalHost"]["stuck_objects"]) == 30  # the written document keeps them all


def test_run_returns_cut_host_lists_and_writes_them_all(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(hosts_lab(), groups=METAL3))
    p = params(tmp_path, kinds=["BareMetalHost"])
    changed, result, diff = document.run(p, check_mode=False)
    assert changed is True
    assert [o["name"] for o in result["report"]["kinds"]["BareMetalHost"]["stuck_objects"]] == [
        f"h-{i:04d}" for i in range(10, 15)
    ]
    assert result["report"]["kinds"]["BareMetalHost"]["stuck"] == 7
    written = json.loads((tmp_path / "scale.json").read_text())
    assert len(written["kinds"]["BareMetalHost"]["stuck_objects"]) == 7
    assert diff["after"]["hosts_available"] == 10
    assert "## BareMetalHost" in (tmp_path / "scale.md").read_text()


@pytest.mark.parametrize(
    "content, required, want",
    [
        (None, False, {}),
        ("not json", False, {}),
        ("[1]", False, {}),
        ('{"summary": {}}', False, {"summary": {}}),
        ('{"summary": {}}', True, {"summary": {}}),
        (None, True, "^path=.*: cannot read a results JSON"),
        ("not json", True, "^path=.*: cannot read a results JSON"),
        ("[1]", True, r"^path=.*: not a results JSON \(a list\)$"),
    ],
)
def test_load_is_the_one_reader(tmp_path, content, required, want):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    if isinstance(want, str):
        with pytest.raises(document.ResultsError, match=want):
            document.load(str(path), "path", required)
    else:
        assert document.load(str(path), "path", required) == want


def test_attach_sets_one_part_and_keeps_the_others(tmp_path):
    path = str(tmp_path / "r.json")
    assert document.part(path, "prometheus") is None
    assert document.attach(path, "summary", {"clusters": 1})
    assert document.attach(path, "prometheus", {"window": 1})
    assert not document.attach(path, "prometheus", {"window": 1})
    assert document.attach(path, "prometheus", {"window": 2}, check_mode=True)
    assert document.load(path) == {"summary": {"clusters": 1}, "prometheus": {"window": 1}}
    assert document.part(path, "prometheus") == {"window": 1}


@pytest.mark.parametrize(
    "kinds, want",
    [
        ({}, ("", "")),
        ({"Cluster": {"first_created": None, "last_ready": None}}, ("", "")),
        (
            {
                "Cluster": {"first_created": "2026-12-04T10:00:05Z", "last_ready": "2026-12-04T10:01:00Z"},
                "BareMetalHost": {"first_created": "2026-12-04T10:00:01Z", "last_available": "2026-12-04T10:02:00Z"},
            },
            ("2026-12-04T10:00:01Z", "2026-12-04T10:02:00Z"),
        ),
    ],
)
def test_window_spans_every_kind(kinds, want):
    assert document.window({"kinds": kinds}) == want


def test_gather_breaks_cluster_time_into_stages(tmp_path):
    doc = document.gather(FakeClient(lab()), params(tmp_path))
    b = doc["kinds"]["Cluster"]["stages"]
    # Ready clusters only; "nodes" is the last Machine's (scale-0001 has two, one found by its owner reference).
    assert b["clusters"] == 11 and b["window"] == 1
    assert (b["first"]["nodes"], b["first"]["ready"]) == (9.0, 1.0)
    assert (b["last"]["nodes"], b["last"]["ready"]) == (9.0, 11.0)
    assert b["grew_most"] == "ready"
    md = document.markdown(doc)
    assert_text(
        md,
        has=[
            "Where the time goes (11 ready clusters; seconds from the milestone before):",
            "| stage | P50 | P99 | first 1 | last 1 | growth |",
            "| nodes | 9.0 | 9.0 | 9.0 | 9.0 | +0.0 |",
            "| total | - | - | 10.0 | 20.0 | +10.0 |",
            "Grew most: **cluster ready**, +10.0 s of the total's +10.0 s.",
        ],
    )
    # Only the Cluster kind has a breakdown, and one without Machines read still has one.
    assert md.count("Where the time goes") == 1
    only = document.gather(FakeClient(lab()), params(tmp_path, kinds=["Cluster"]))
    assert only["kinds"]["Cluster"]["stages"]["first"]["nodes"] == 0.0


def test_a_runs_results_stay_what_it_measured_once_a_phase_changed_its_clusters(tmp_path, monkeypatch):
    objs = lab()
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(objs))
    p = params(tmp_path)
    assert document.run(p, check_mode=False)[0] is True
    before = (tmp_path / "scale.json").read_text()
    # An upgrade touched the clusters and replaced their Machines: a re-gather would time the new ones.
    for o in objs:
        if o["kind"] == "Cluster":
            o["metadata"]["annotations"] = {"scalelab.io/upgrade-started": at(100)}
        if o["kind"] == "Machine":
            o["metadata"]["creationTimestamp"] = at(200)
    changed, result, _dummy = document.run(p, check_mode=False)
    assert changed is False and (tmp_path / "scale.json").read_text() == before
    assert result["report"]["summary"]["clusters_ready"] == 11


def test_a_run_that_measured_every_object_ready_keeps_its_results_when_they_move_later(tmp_path, monkeypatch):
    objs = lab()
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(objs))
    p = params(tmp_path)
    assert document.run(p, check_mode=False)[0] is True  # 11 of 12 clusters ready: not the whole run yet
    late = next(o for o in objs if o["kind"] == "Cluster" and o["metadata"]["name"] == "scale-0011")
    late["status"]["conditions"] = [{"type": "Available", "status": "True", "lastTransitionTime": at(40)}]
    changed, result, _dummy = document.run(p, check_mode=False)  # a resumed run completes it
    assert changed is True and result["report"]["summary"]["clusters_ready"] == 12
    whole = (tmp_path / "scale.json").read_text()
    # A fault later (an API server or a manager restarted) flapped every Cluster's condition: what the run measured
    # stands, in check mode too.
    for o in objs:
        if o["kind"] == "Cluster":
            o["status"]["conditions"][0]["lastTransitionTime"] = at(900)
    assert document.run(p, check_mode=True)[0] is False
    changed, result, _dummy = document.run(p, check_mode=False)
    assert changed is False and (tmp_path / "scale.json").read_text() == whole
    assert result["report"]["summary"]["cluster_max_seconds"] < 100


def test_a_phase_is_gathered_like_creation(tmp_path, monkeypatch):
    objs = []
    for i in range(3):
        name = f"scale-{i:04d}"
        c = capi("Cluster", name, 0, 5, labels={"scalelab.io/set": "scale"})
        c["metadata"]["annotations"] = {"scalelab.io/upgrade-started": at(100 + i)}
        c["spec"] = {"topology": {"version": "v1.35.5", "controlPlane": {"replicas": 1}}}
        objs.append(c)
        objs.append(
            capi("Machine", f"{name}-new", 101 + i, 10 * (i + 1), spec={"clusterName": name, "version": "v1.35.5"})
        )
    monkeypatch.setattr(document, "KubeClient", lambda *a, **kw: FakeClient(objs))
    p = params(tmp_path, phase={"name": "upgrade", "version": "v1.35.5"})
    changed, result, _dummy = document.run(p, check_mode=False)
    doc = json.loads((tmp_path / "scale.json").read_text())
    assert (
        changed
        and doc["phase"] == {"name": "upgrade", "version": "v1.35.5"}
        and sorted(doc["kinds"]) == ["Cluster", "Machine"]
    )
    # touched at 100+i, its new Machine ready at 101+i+10(i+1): 11, 21, 31 s
    assert doc["summary"]["cluster_p50_seconds"] == 21.0 and doc["summary"]["cluster_max_seconds"] == 31.0
    assert doc["run"]["started"] == at(100) and doc["run"]["ended"] == at(133)
    assert (tmp_path / "scale.md").read_text().startswith("# Scale results: upgrade to v1.35.5")
    # A later phase (scale_workers) touched the clusters and made Machines at the same version: the upgrade's
    # results stay what the upgrade measured (a re-gather would count the new workers as its own).
    before = (tmp_path / "scale.json").read_text()
    for i, c in enumerate(o for o in objs if o["kind"] == "Cluster"):
        c["metadata"]["annotations"]["scalelab.io/scale_workers-started"] = at(300 + i)
        objs.append(
            capi("Machine", f"w-{i}", 301 + i, 5, spec={"clusterName": c["metadata"]["name"], "version": "v1.35.5"})
        )
    changed, result, _dummy = document.run(p, check_mode=False)
    assert changed is False and (tmp_path / "scale.json").read_text() == before
    assert result["report"]["kinds"]["Machine"]["count"] == 3


@pytest.mark.parametrize(
    ("phase", "says"),
    [
        (
            {"name": "upgrade", "version": "v1.35.5"},
            "to all its Machines at v1.35.5 and ready, none at another version",
        ),
        ({"name": "rollout"}, "to every Machine it should have made after that ready, none from before left"),
        ({"name": "scale_workers", "replicas": 1}, "as many Machines as its shape asks for (1 per worker pool)"),
        ({"name": "soak", "seconds": 180}, "from when the soak marked a cluster to its last change after that"),
        ({"name": "delete"}, "from a cluster's delete to the first look that found it gone"),
    ],
)
def test_a_phase_says_what_its_seconds_measure(phase, says):
    summary = {"clusters": 1, "clusters_ready": 1, "drift_pct": 0.0}
    summary.update({f"cluster_{q}_seconds": 1.0 for q in ("p50", "p90", "p99", "max")})
    md = " ".join(document.markdown({"summary": summary, "phase": phase, "kinds": {}}).split())
    assert says in md and "at None" not in md, md


def test_a_run_done_within_its_first_writes_second_ends_no_earlier_than_it_started():
    # Kubernetes keeps whole seconds: hosts available in the second the run's first write began (microseconds)
    # read as ready before it started, and the metrics' and profiles' window [start, end] was refused: it ended by
    # the next whole second.
    kinds = {"BareMetalHost": {"first_created": "2026-12-07T09:34:52Z", "last_available": "2026-12-07T09:34:52Z"}}
    started = "2026-12-07T09:34:52.259429Z"
    assert document.window({"run": {"started": started}, "kinds": kinds}) == (started, "2026-12-07T09:34:53Z")
    later = {"BareMetalHost": {**kinds["BareMetalHost"], "last_available": "2026-12-07T09:34:53Z"}}
    assert document.window({"run": {"started": started}, "kinds": later}) == (started, "2026-12-07T09:34:53Z")
