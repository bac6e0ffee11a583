"""cluster_bulk against the real stack: create, idempotent re-run, check mode, delete.

Faults and bad input: test_faults.py, test_bad_inputs.py."""

from __future__ import annotations

import pytest

CLUSTERS = "/apis/cluster.x-k8s.io/v1beta2/clusters"


def _topology(lab) -> dict:
    return {"class_name": "scalelab-in-memory", "version": "v1.35.4"}


def _names(lab, set_name: str) -> list[str]:
    return sorted(c["metadata"]["name"] for c in lab.objects(CLUSTERS, f"scalelab.io/set={set_name}"))


@pytest.fixture
def bulk(lab):
    """Runs cluster_bulk on the lab; deletes every set a test made afterwards."""
    made = set()

    def run(name: str, check: bool = False, **args):
        made.add(name)
        if "template" not in args:
            args.setdefault("topology", _topology(lab))
        return lab.module("cluster_bulk", check=check, kubeconfig=lab.kubeconfig, name=name, **args)

    yield run
    for name in made:
        res = lab.module("cluster_bulk", kubeconfig=lab.kubeconfig, name=name, state="absent", delete_timeout=300)
        assert res["rc"] == 0, res


def test_create_then_rerun_creates_nothing(lab, bulk):
    first = bulk("itb-a", count=4, concurrency=4)
    assert first["rc"] == 0 and first["changed"] is True, first
    assert first["clusters"] == {"wanted": 4, "existing_before": 0, "created": 4, "deleted": 0}
    assert first["calls"]["outcomes"] == {"created": 4}
    assert first["calls"]["latency_ms"]["count"] == 4 and first["calls"]["latency_ms"]["p99"] > 0
    assert _names(lab, "itb-a") == [f"itb-a-000{i}" for i in range(1, 5)]
    again = bulk("itb-a", count=4)
    assert again["rc"] == 0 and again["changed"] is False and again["clusters"]["created"] == 0, again


def test_check_mode_counts_without_writing(lab, bulk):
    assert bulk("itb-b", count=2)["rc"] == 0
    res = bulk("itb-b", count=5, check=True)
    assert res["rc"] == 0 and res["changed"] is True
    assert res["clusters"]["existing_before"] == 2 and res["clusters"]["created"] == 3
    assert _names(lab, "itb-b") == ["itb-b-0001", "itb-b-0002"]
    res = bulk("itb-b", state="absent", check=True)
    assert res["changed"] is True and len(_names(lab, "itb-b")) == 2


def test_delete_waits_for_finalizers_and_is_idempotent(lab, bulk):
    assert bulk("itb-d", count=2, namespace_per_cluster=True)["rc"] == 0
    ns = lab.objects("/api/v1/namespaces", "scalelab.io/set=itb-d")
    assert sorted(n["metadata"]["name"] for n in ns) == ["itb-d-0001", "itb-d-0002"]
    res = bulk("itb-d", state="absent", delete_timeout=300)
    assert res["rc"] == 0 and res["changed"] is True and res["clusters"]["deleted"] == 2, res
    assert _names(lab, "itb-d") == []
    assert lab.objects("/api/v1/namespaces", "scalelab.io/set=itb-d") == []
    again = bulk("itb-d", state="absent")
    assert again["rc"] == 0 and again["changed"] is False
