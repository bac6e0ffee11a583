from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import waiters

T = "2026-12-05T09:00:00Z"
NAMES = {("lab", "c1")}


def machine(cluster="c1", namespace="lab", node=True, ready="True", api="cluster.x-k8s.io/v1beta2", version="v1.35.4"):
    status = {"conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": T}] if ready else []}
    if node:
        status["nodeRef"] = {"kind": "Node", "name": "n1"}
    return {
        "apiVersion": api,
        "metadata": {"name": "m", "namespace": namespace, "labels": {"cluster.x-k8s.io/cluster-name": cluster}},
        "spec": {"version": version},
        "status": status,
    }


@pytest.mark.parametrize(
    ("machines", "expected"),
    [
        ([machine()], (1, 1, 0, 1)),
        ([machine(api="cluster.x-k8s.io/v1beta1")], (1, 1, 0, 1)),  # v1beta1: Ready too
        # The node comes first: not ready yet (the wait used to end here, before the report's readiness).
        ([machine(ready="False")], (1, 0, 0, 1)),
        ([machine(ready=None)], (1, 0, 0, 1)),
        ([machine(node=False)], (0, 0, 0, 1)),  # Ready without a node is not ready for the report either
        ([machine(cluster="c2"), machine(namespace="other")], (0, 0, 0, 0)),  # not the set's clusters
        ([machine(), machine(ready="False"), machine(node=False, ready="False")], (2, 1, 0, 3)),
    ],
)
def test_machine_counts(machines, expected):
    assert waiters.machine_counts(machines, NAMES) == expected


@pytest.mark.parametrize(
    ("machines", "expected"),
    [
        # Mid-upgrade: the new Machine has its node, the old one is still there (ready, but not counted).
        ([machine(version="v1.35.5", ready="False"), machine()], (1, 0, 1, 2)),
        ([machine(version="v1.35.5"), machine()], (1, 1, 1, 2)),
        ([machine(version="v1.35.5")], (1, 1, 0, 1)),  # replaced: done
        ([machine(version="v1.35.5", cluster="c2"), machine(cluster="c2")], (0, 0, 0, 0)),  # not the set's
    ],
)
def test_with_a_version_only_machines_at_it_count_and_the_others_are_counted_apart(machines, expected):
    assert waiters.machine_counts(machines, NAMES, "v1.35.5") == expected


def made(at: str, **kw) -> dict:
    m = machine(**kw)
    m["metadata"]["creationTimestamp"] = at
    return m


@pytest.mark.parametrize(
    ("machines", "expected"),
    [
        # Mid-rollout: the old Machine (made before the mark) is counted apart, the new one only counts.
        ([made("2026-12-05T08:59:59Z"), made("2026-12-05T09:00:03Z", ready="False")], (1, 0, 1, 2)),
        ([made("2026-12-05T09:00:00Z")], (1, 1, 0, 1)),  # made in the mark's own second (whole seconds): new
        ([made("2026-12-05T08:00:00Z", cluster="c2")], (0, 0, 0, 0)),  # not the set's
    ],
)
def test_with_rollout_marks_only_machines_made_after_their_clusters_mark_count(machines, expected):
    marks = {("lab", "c1"): 1796461200.4}  # 2026-12-05T09:00:00.4Z
    assert waiters.machine_counts(machines, NAMES, "", marks) == expected
    done = {"ready": 1, "machines_ready": 1}
    assert waiters.clusters_done(done, {"count": 1, "machines": 1})
    assert not waiters.clusters_done({**done, "machines_before_rollout": 1}, {"count": 1, "machines": 1})


def test_per_cluster_counts_say_which_clusters_are_back_in_shape():
    names = {("lab", "c1"), ("lab", "c2"), ("lab", "c3")}
    machines = [
        made("2026-12-05T09:00:05Z"),  # c1: its new one ready, nothing left over
        made("2026-12-05T09:00:05Z", cluster="c2"),
        made("2026-12-05T08:59:00Z", cluster="c2"),  # c2: one from before the rollout still there
        made("2026-12-05T09:00:05Z", cluster="c3", ready="False"),  # c3: its new one not ready
    ]
    per: dict = {}
    marks = dict.fromkeys(names, 1796461200.4)
    assert waiters.machine_counts(machines, names, "", marks, per) == (3, 2, 1, 4)
    assert per == {("lab", "c1"): [1, 0, 1], ("lab", "c2"): [1, 1, 2], ("lab", "c3"): [0, 0, 1]}
    wants = dict.fromkeys(names, 1)
    assert waiters.in_shape(dict.fromkeys(names, True), wants, per) == 1
    assert waiters.in_shape({**dict.fromkeys(names, True), ("lab", "c1"): False}, wants, per) == 0
    # A scale up to 2: c1's one Machine is not its shape yet; a cluster with no Machine listed is not either.
    assert waiters.in_shape({("lab", "c1"): True, ("lab", "c4"): True}, {("lab", "c1"): 2, ("lab", "c4"): 1}, per) == 0


@pytest.mark.parametrize(
    ("snap", "expected"),
    [
        ({"ready": 2, "machines_with_node": 4, "machines_ready": 4}, True),
        # Every Machine has its node but one is not Ready: not done (the report would still change).
        ({"ready": 2, "machines_with_node": 4, "machines_ready": 3}, False),
        ({"ready": 1, "machines_with_node": 4, "machines_ready": 4}, False),
        ({"ready": 3, "machines_with_node": 5, "machines_ready": 5}, True),
        # An upgrade: enough at the new version, but an old Machine is still there.
        ({"ready": 2, "machines_with_node": 5, "machines_ready": 4, "machines_other_version": 1}, False),
        # Every Machine replaced, but a worker pool not bumped to the version yet.
        ({"ready": 2, "machines_ready": 4, "machines_other_version": 0, "pools_not_at_version": 1}, False),
        # The set's own shape: scaled up, the topologies ask for more than the floor and not all are there yet ...
        ({"ready": 2, "machines_ready": 4, "machines_wanted": 6, "machines_total": 5}, False),
        ({"ready": 2, "machines_ready": 6, "machines_wanted": 6, "machines_total": 6}, True),
        # ... scaled down: enough ready, but a removed Machine is still there (being deleted).
        ({"ready": 2, "machines_ready": 5, "machines_wanted": 4, "machines_total": 5}, False),
        ({"ready": 2, "machines_ready": 4, "machines_wanted": 4, "machines_total": 4}, True),
    ],
)
def test_clusters_done(snap, expected):
    assert waiters.clusters_done(snap, {"count": 2, "machines": 4}) is expected


def test_a_probe_the_api_server_does_not_answer_in_time_is_polled_again():
    """At 1,000 clusters on 2 cores a LIST of the set timed out past its retries and ended a 90-minute wait with
    the lab still converging: one slow answer is not the wait's end, the wait's own window is."""
    requests = pytest.importorskip("requests")
    answers = [{"done": False, "ready": 1}, requests.ReadTimeout("read timed out"), requests.ReadTimeout("again")]
    answers.append({"done": True, "ready": 2})

    def probe():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    snap = waiters.poll_until(probe, window=30, interval=0.01)
    assert snap == {"done": True, "ready": 2, "probe_errors": 2, "last_probe_error": "ReadTimeout: again"}


def test_a_probe_with_no_answer_yet_in_its_window_fails_it_for_the_windows_loop_to_judge():
    requests = pytest.importorskip("requests")

    def probe():
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError):
        waiters.poll_until(probe, window=30, interval=0.01)


def pool(cluster="c1", version="v1.35.5", generation=2, observed=2):
    return {
        "metadata": {
            "namespace": "lab",
            "generation": generation,
            "labels": {"cluster.x-k8s.io/cluster-name": cluster},
        },
        "spec": {"template": {"spec": {"version": version}}},
        "status": {"observedGeneration": observed},
    }


@pytest.mark.parametrize(
    ("pools", "expected"),
    [
        ([pool()], 0),
        ([pool(version="v1.35.4")], 1),  # the topology has not bumped it yet
        ([pool(observed=1)], 1),  # bumped, its controller has not seen it yet
        ([pool(version="v1.35.4", cluster="c2")], 0),  # not the set's
    ],
)
def test_pools_not_at_the_version(pools, expected):
    assert waiters.pools_not_at(pools, NAMES, "v1.35.5") == expected


@pytest.mark.parametrize(
    ("marks", "now", "left"),
    [
        ([100.0, 105.0], 200.0, 500.0),  # from the first mark
        ([100.0, 105.0], 700.0, 0.0),  # over
        ([100.0, None], 700.0, 600.0),  # one not marked yet: the whole soak
        ([], 700.0, 600.0),
    ],
)
def test_soak_left(marks, now, left):
    assert waiters.soak_left(marks, 600, now) == left
    assert waiters.clusters_done({"ready": 1, "machines_ready": 1, "soak_left": left}, {"count": 1, "machines": 1}) is (
        left == 0
    )
