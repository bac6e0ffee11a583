from __future__ import annotations

import json

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.results import document, merge
from ansible_collections.scalelab.capi.plugins.module_utils.results.host_timeline import HostAccumulator
from test_document import FakeClient, capi, params
from test_host_timeline import bmh

# Per kind, the fields a merge must give exactly as one report over every object would.
SAME = ("count", "ready", "not_ready", "time_to_ready", "drift", "first_created", "last_ready", "span_seconds")
SAME += ("series",)
HOST_SAME = (
    "count",
    "states",
    "available",
    "provisioned",
    "time_to_available",
    "drift",
    "provision",
    "provision_drift",
    "stuck",
    "first_created",
    "last_available",
    "span_seconds",
    "series",
)


def shard_objects(n: int, offset: float, slow_from: int) -> list[dict]:
    """n clusters created a second apart from offset, each with a control-plane Machine; later ones slower."""
    objs = []
    for i in range(n):
        name = f"scale-{i + 1:04d}"
        ready = None if i == n - 1 else 10 + i + (30 if i >= slow_from else 0)
        objs.append(capi("Cluster", name, offset + i, ready, labels={"scalelab.io/set": "scale"}))
        objs.append(capi("Machine", f"{name}-cp", offset + i + 0.5, 8 + i % 3, spec={"clusterName": name}))
    return objs


def gathered(tmp_path, objs) -> dict:
    return json.loads(document.dumps(document.gather(FakeClient(objs), params(tmp_path, kinds=["Cluster", "Machine"]))))


@pytest.mark.parametrize(
    ("sizes", "offsets"),
    [
        ((10, 10), (0, 0.25)),  # interleaved creation: the merged order mixes the shards
        ((3, 17), (100, 0)),  # unequal shards, the second created first
        ((1, 1), (0, 5)),
    ],
)
def test_merge_equals_one_report_over_every_object(tmp_path, sizes, offsets):
    a = shard_objects(sizes[0], offsets[0], slow_from=sizes[0] // 2)
    b = shard_objects(sizes[1], offsets[1], slow_from=sizes[1] // 3)
    # Names repeat across management clusters: the union needs them apart. Timestamps have whole seconds, so
    # creation ties are common; one report breaks them by name then namespace, the merge by source order: a
    # namespace sorting after "default" gives both the same order.
    for o in b:
        o["metadata"]["namespace"] = "zz"
    merged = merge.merge({"mgmt-a": gathered(tmp_path, a), "mgmt-b": gathered(tmp_path, b)})
    whole = gathered(tmp_path, a + b)
    for kind in ("Cluster", "Machine"):
        for field in SAME:
            assert merged["kinds"][kind][field] == whole["kinds"][kind][field], (kind, field)
    assert merged["summary"] == whole["summary"]
    assert merged["run"]["management_clusters"] == ["mgmt-a", "mgmt-b"]
    assert set(merged["sources"]) == {"mgmt-a", "mgmt-b"}
    assert merged["sources"]["mgmt-a"]["summary"]["clusters"] == sizes[0]


def test_not_ready_objects_name_their_management_cluster(tmp_path):
    merged = merge.merge(
        {"a": gathered(tmp_path, shard_objects(2, 0, 9)), "b": gathered(tmp_path, shard_objects(3, 0, 9))}
    )
    names = [(o["namespace"], o["name"]) for o in merged["kinds"]["Cluster"]["not_ready_objects"]]
    assert names == [("a/default", "scale-0002"), ("b/default", "scale-0003")]
    assert merged["kinds"]["Cluster"]["not_ready"] == 2


def hosts(names, created0):
    out = []
    for i, name in enumerate(names):
        c = created0 + i
        history = {"register": (c + 1, c + 2), "inspect": (c + 2, c + 30 + i)}
        if i % 2 == 0:
            history["provision"] = (c + 40, c + 100 + 3 * i)
        out.append(bmh(name=name, created=c, state="provisioned" if i % 2 == 0 else "available", history=history))
    out.append(
        bmh(
            name=f"{names[0]}-err",
            created=created0,
            state="registering",
            errorType="registration error",
            errorMessage="bmc unreachable",
        )
    )
    return out


def host_result(objs) -> dict:
    acc = HostAccumulator()
    for o in objs:
        acc.add(o)
    return json.loads(json.dumps(acc.result()))


def test_hosts_merge_equals_one_report_over_every_host():
    a, b = hosts([f"a{i}" for i in range(7)], 0), hosts([f"b{i}" for i in range(4)], 3.5)
    merged = merge.merge_hosts({"a": host_result(a), "b": host_result(b)})
    whole = host_result(a + b)
    for field in HOST_SAME:
        assert merged[field] == whole[field], field
    assert {o["name"]: o["namespace"] for o in merged["stuck_objects"]} == {"a0-err": "a/metal3", "b0-err": "b/metal3"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "merge.x="),  # no file
        ("not json", "cannot read a results JSON"),
        ("[]", "not a results JSON"),
        (json.dumps({"kinds": {"Cluster": {"count": 1}}}), "no per-object series"),
    ],
)
def test_bad_sources_name_the_report(tmp_path, content, message):
    good = tmp_path / "good.json"
    good.write_text(document.dumps(gathered(tmp_path, shard_objects(2, 0, 9))))
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    with pytest.raises(merge.MergeError, match=message) as e:
        merge.run({"merge": {"ok": str(good), "x": str(bad)}, "path": str(tmp_path / "m.json")}, False)
    assert "merge.x" in str(e.value)
    assert not (tmp_path / "m.json").exists()


def test_run_writes_once_and_the_markdown_lists_each_management_cluster(tmp_path):
    paths = {}
    for name, objs in (("mgmt-a", shard_objects(4, 0, 2)), ("mgmt-b", shard_objects(6, 1, 3))):
        paths[name] = str(tmp_path / f"{name}.json")
        with open(paths[name], "w") as f:
            f.write(document.dumps(gathered(tmp_path, objs)))
    p = {"merge": paths, "path": str(tmp_path / "merged.json"), "markdown_path": str(tmp_path / "merged.md")}
    changed, result, diff = merge.run(p, check_mode=True)
    assert changed and not (tmp_path / "merged.json").exists()
    changed, result, diff = merge.run(p, check_mode=False)
    assert changed and diff["after"]["clusters"] == 10
    assert result["report"]["summary"]["clusters_ready"] == 8
    assert "series" not in result["report"]["kinds"]["Cluster"]
    md = (tmp_path / "merged.md").read_text()
    assert md.startswith("# Scale results: mgmt-a, mgmt-b")
    assert "| mgmt-a | 4 | 3 |" in md and "| mgmt-b | 6 | 5 |" in md
    assert "## Cluster" in md
    assert merge.run(p, check_mode=False)[0] is False
