from __future__ import annotations

import json
import os

import pytest

from .lab import running_lab

# The session's order, by stage (a module's `pytestmark = pytest.mark.stage(name)`; unmarked tests are "lab"): the
# itest lab's tests, its teardown, the namespace hosts, then the Cluster API v1.7 lab (its own in-memory provider
# needs the first one gone: upstream's workload servers use fixed ports on every address), the hosts scenario on it,
# then the farm's metal3 scenario (it changes that lab's scenario).
STAGES = ("lab", "lab-teardown", "netns", "lab17", "lab17-metal3", "lab17-farm")
# fixture -> the stages that may use it
FIXTURE_STAGES = {"lab": STAGES[:2], "lab17": STAGES[3:]}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "stage(name): where the test runs in the session (tests/integration/conftest.py STAGES)"
    )
    config.addinivalue_line(
        "markers", "aside: needs no lab; hack/test runs these beside the quick start (pytest -m aside), the rest after"
    )
    config.addinivalue_line(
        "markers",
        "netns: the stage netns (network namespaces of its own, no port or lab shared); hack/test runs it (pytest -m"
        " netns) beside the other stages",
    )


def _stage(item) -> str:
    marker = item.get_closest_marker("stage")
    name = marker.args[0] if marker else "lab"
    if name not in STAGES:
        raise pytest.UsageError(f"{item.nodeid}: stage({name!r}) is not one of {', '.join(STAGES)}")
    # The marker selects what hack/test runs beside the labs: only the namespaces' stage may have it, and all of it.
    if (name == "netns") != bool(item.get_closest_marker("netns")):
        raise pytest.UsageError(f"{item.nodeid}: stage {name!r} and the netns marker go together (both or neither)")
    for fixture, stages in FIXTURE_STAGES.items():
        if fixture in item.fixturenames and item.get_closest_marker("aside"):
            raise pytest.UsageError(f"{item.nodeid}: marked aside (run beside the quick start) but uses {fixture}")
        if fixture in item.fixturenames and name not in stages:
            raise pytest.UsageError(f"{item.nodeid}: stage {name!r} uses fixture {fixture}, only there in {stages}")
    return name


def pytest_collection_modifyitems(session, config, items):
    """Stable sort by stage: files keep their order within one, whatever their names."""
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    ranks = {id(item): STAGES.index(_stage(item)) for item in items if str(item.path).startswith(here)}
    items.sort(key=lambda item: ranks.get(id(item), -1))


def _session_lab(tmp_path_factory, name, tmp_name, ports, extra_vars):
    """A session fixture's body: yields the lab running_lab makes in a new directory tmp_name; returns it torn down."""
    with running_lab(name, str(tmp_path_factory.mktemp(tmp_name)), ports, extra_vars) as lab:
        yield lab
    return lab


# Ports apart from the default lab's, so a developer's running lab is left alone.
PORTS = {
    "etcd_client": 11379,
    "etcd_peer": 11380,
    "etcd_metrics": 11381,
    "apiserver": 11443,
    "controller_manager": 11257,
}


INMEMORY_STARTUP = {"capi_stack_inmemory_vm_startup": "2s", "capi_stack_inmemory_node_startup": "1s"}

# The Cluster API stack of the test lab: manager ports and the in-memory provider's address (its workload API
# servers use fixed ports 19000 and 20000 up) apart from a developer's default lab on 127.0.0.1.
CAPI = {
    "capi_stack_port_base": 11400,
    "capi_stack_inmemory_address": "127.0.0.3",
    "scale_set_name": "itest",
    # Observability: Prometheus 11490, kube-state-metrics 11491-11492, node_exporter 11493.
    "observability_port_base": 11490,
    # Scrapes and rule evaluations every 5 s (the default 10 s): two evaluations past the run's end are a 10 s tail
    # (the default, a minute, would add one per run) and a settle longer than one interval 8 s (the default 25 s) -
    # 17 s less per snapshot than with 10 s, and the test labs take about a dozen of them.
    "observability_scrape_interval": "5s",
    "scale_snapshot_tail": 10,
    "scale_snapshot_settle": 8,
    "scale_clusters": 3,
    # The in-memory provider's pretended start-up (a VM, then its node, etcd and API server, one after another):
    # 2 s and 1 s instead of 10 s and 2 s each: ~11 s less per Machine the tests make, though a cluster's time to
    # ready is mostly Cluster API's own steps (rh49: test_phases 277 -> 234 s). Nothing here tests the durations
    # themselves (the quick start keeps the defaults).
    **INMEMORY_STARTUP,
    # Its 3 clusters are ready in ~1 min (a phase's in less): a broken lab fails in 10 minutes, not the default 30.
    "scale_wait_timeout": 600,
}


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """One real host lab (management cluster, Cluster API stack, 3 clusters) for the session, removed at the end."""
    yield from _session_lab(tmp_path_factory, "itest", "lab", PORTS, CAPI)


@pytest.fixture(scope="module")
def deleting(lab):
    """Sets a module's tests made, appended once each test is done: their Clusters are deleted at once (Lab.delete_soon)
    and Cluster API removes them beside the next tests; at the module's end cluster_bulk state=absent deletes what is
    left of each (namespaces it made too) and waits. One wait per module instead of one per test. Only for modules
    that stop no API server or etcd (test_faults waits per test: a deletion across such a stop can sit for minutes)."""
    names: list[str] = []
    yield names
    failed = []
    for name in names:  # every set, even after one failed: none left for the next module
        res = lab.module("cluster_bulk", kubeconfig=lab.kubeconfig, name=name, state="absent", delete_timeout=300)
        if res["rc"] != 0:
            failed.append(f"{name}: {res.get('msg')} left: {json.dumps(res.get('left'))}")
    assert not failed, "\n".join(failed)


# The Cluster API v1.7 lab (test_stack_capi17, test_metal3): started after test_teardown removed the first lab, because
# the in-memory provider's workload servers use fixed ports on every address upstream; the Metal3 stack joins it.
PORTS17 = {
    "etcd_client": 12379,
    "etcd_peer": 12380,
    "etcd_metrics": 12381,
    "apiserver": 12443,
    "controller_manager": 12257,
}
VARS17 = {
    "binaries_stack": "capi-1.7",
    "capi_stack_port_base": 12400,
    "capi_stack_inmemory_address": "127.0.0.4",
    "scale_set_name": "it17",
    # Observability: Prometheus 12490, kube-state-metrics 12491-12492, node_exporter 12493; captures every 15 s.
    "observability_port_base": 12490,
    "observability_profile_interval": 15,
    "observability_profile_seconds": 5,
    # As the first lab's.
    "observability_scrape_interval": "5s",
    "scale_snapshot_tail": 10,
    "scale_snapshot_settle": 8,
    "scale_clusters": 2,
    **INMEMORY_STARTUP,  # as the first lab's
    "scale_wait_timeout": 600,  # as the first lab's
    # The lab's converge runs the hosts scenario (test_metal3); test_stack_capi17 makes its v1.7 in-memory
    # clusters with the modules (a converge costs ~4.5 min here). The Metal3 stack: ports 12450-12462.
    "scale_scenario": "hosts",
    "metal3_stack_port_base": 12450,
    "scale_hosts_set_name": "ith",
    "scale_hosts_namespace": "itest-metal3",
    "scale_hosts": 12,
    "scale_hosts_provisioned": 3,
}


@pytest.fixture(scope="session")
def lab17(tmp_path_factory):
    lab = yield from _session_lab(tmp_path_factory, "itest17", "lab17", PORTS17, VARS17)
    # The teardown keeps the runs' results (management_cluster_keep), nothing else.
    assert lab.processes() == [] and lab.left() == ["results"], lab.left()
