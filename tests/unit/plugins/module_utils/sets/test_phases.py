from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import phases


@pytest.mark.parametrize(
    ("items", "found"),
    [
        ([], []),
        (
            [
                {"name": "upgrade", "version": "v1.35.5", "batch_size": 10, "batch_pause": 5},
                {"name": "rollout", "gates": {"p99_seconds": 60}},
                {"name": "scale_workers", "replicas": 0},
                {"name": "delete", "gates": {}},
            ],
            [],
        ),
        ([{"name": "upgrade", "version": "v1.36.0-rc.1"}], []),
        ([{"name": "soak", "seconds": 180, "baseline": "previous"}, {"name": "delete", "baseline": "/b.json"}], []),
        ([{"name": "rollout", "baseline": 3}], ["rollout baseline=3: needs a results JSON path or previous"]),
        ([{"name": "delete", "baseline": ""}], ['delete baseline="": needs a results JSON path or previous']),
        ("upgrade", ["not a list"]),
        (
            [{"name": "churn"}],
            ["item 0 is not a mapping with a name out of upgrade, rollout, scale_workers, soak, delete"],
        ),
        (["upgrade"], ["item 0 is not a mapping with a name out of upgrade, rollout, scale_workers, soak, delete"]),
        ([{"name": "rollout", "version": "v1.35.5"}], ["rollout takes no version"]),
        ([{"name": "upgrade", "version": "v1.35.5", "replicas": 1}], ["upgrade takes no replicas"]),
        ([{"name": "delete", "batch_size": 1}], ["delete takes no batch_size"]),
        ([{"name": "upgrade"}], ["upgrade version=null: needs the version to upgrade to, like v1.35.5"]),
        (
            [{"name": "upgrade", "version": "1.35.5"}],
            ['upgrade version="1.35.5": needs the version to upgrade to, like v1.35.5'],
        ),
        ([{"name": "scale_workers", "replicas": -1}], ["scale_workers replicas=-1: needs the worker replicas, >= 0"]),
        (
            [{"name": "scale_workers", "replicas": True}],
            ["scale_workers replicas=true: needs the worker replicas, >= 0"],
        ),
        ([{"name": "scale_workers", "replicas": "2"}], ['scale_workers replicas="2": needs the worker replicas, >= 0']),
        (
            [{"name": "scale_workers", "replicas": 2}, {"name": "scale_workers", "replicas": 0}],
            ["scale_workers twice (a phase's mark on a cluster is per name)"],
        ),
        ([{"name": "delete"}, {"name": "rollout"}], ["delete is not last (the set is gone after it)"]),
        ([{"name": "soak", "seconds": 1800, "gates": {"rss_mib_per_hour": 50}}], []),
        ([{"name": "soak"}], ["soak seconds=null: needs whole seconds from 180 to 86400"]),
        ([{"name": "soak", "seconds": 60}], ["soak seconds=60: needs whole seconds from 180 to 86400"]),
        ([{"name": "soak", "seconds": 600, "batch_size": 5}], ["soak takes no batch_size"]),
    ],
)
def test_problems(items, found):
    assert phases.problems(items) == found


@pytest.mark.parametrize(
    ("item", "title"),
    [
        ({"name": "upgrade", "version": "v1.35.5"}, "upgrade to v1.35.5"),
        ({"name": "scale_workers", "replicas": 3}, "scale_workers to 3 replicas"),
        ({"name": "rollout"}, "rollout"),
        ({"name": "soak", "seconds": 600}, "soak for 600 s"),
        ({"name": "delete"}, "delete"),
        ({"name": "other"}, "other"),
    ],
)
def test_title(item, title):
    assert phases.title(item) == title


def test_the_table_names_each_phase_once_and_only_delete_is_not_cluster_phases():
    assert phases.PHASES == ("upgrade", "rollout", "scale_workers", "soak", "delete")
    assert phases.CHANGES == ("upgrade", "rollout", "scale_workers", "soak")
    assert phases.forms().startswith("{name: upgrade, version: like v1.35.5} or {name: rollout}")


def test_a_rollout_counts_machines_made_in_or_after_the_marks_second():
    ms = [
        {"metadata": {"name": n, "creationTimestamp": t}}
        for n, t in (("old", "2026-12-06T10:00:04Z"), ("new", "2026-12-06T10:00:05Z"))
    ]
    start = 1796551205.5  # 2026-12-06T10:00:05.5Z
    assert [m["metadata"]["name"] for m in phases.TABLE["rollout"].outcome(ms, {}, start)] == ["new"]
    assert phases.TABLE["scale_workers"].outcome(ms, {"replicas": 1}, start) == ms


def test_marks_are_read_from_the_started_annotations_only():
    c = {"metadata": {"annotations": {
        "scalelab.io/upgrade-started": "1970-01-01T00:00:10.500000Z",
        "scalelab.io/soak-started": "not a time",
        "scalelab.io/created-version": "v1.35.4",
    }}}  # fmt: skip
    assert phases.mark_time(c, "upgrade") == 10.5
    assert phases.mark_time(c, "rollout") is None and phases.mark_time({}, "upgrade") is None
    assert phases.marks(c) == {"upgrade": 10.5, "soak": None}
    assert phases.marked(c, "soak") and not phases.marked(c, "rollout")


@pytest.mark.parametrize(
    ("items", "workers", "hosts"),
    [
        ([], 0, 4),  # no phase: a host per Machine
        ([{"name": "soak", "seconds": 180}, {"name": "delete"}], 1, 8),
        ([{"name": "upgrade", "version": "v1.35.5"}], 0, 5),  # one spare for the replacements to queue on
        ([{"name": "rollout"}, {"name": "scale_workers", "replicas": 2}], 1, 13),  # the largest shape, and a spare
        ([{"name": "scale_workers", "replicas": 0}], 2, 12),  # a scale down needs what creation needed
    ],
)
def test_hosts_a_metal3_sets_phases_need(items, workers, hosts):
    assert phases.hosts_needed(items, 4, 1, workers) == hosts
