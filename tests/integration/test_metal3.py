"""The hosts scenario on the Cluster API v1.7 lab: the Bare Metal Operator in test mode and CAPM3 as supervised
processes, BareMetalHosts made available and provisioned in bulk, re-runs, an interrupted run resumed, bad input
refused before any write, the BMC password kept out of logs, and deletion that leaves nothing behind."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import time

import pytest

from .lab import ROOT, descendants, files_leaking, key_material, listeners_of

pytestmark = pytest.mark.stage("lab17-metal3")

BMH = "/apis/metal3.io/v1alpha1"


@pytest.fixture(scope="module")
def hosts_lab(lab17):
    """The lab17 converge is the hosts scenario (conftest VARS17)."""
    lab17.hosts_converge = lab17.first_converge
    return lab17


def bmhs(lab, namespace: str, set_name: str) -> list[dict]:
    return lab.objects(f"{BMH}/namespaces/{namespace}/baremetalhosts", f"scalelab.io/set={set_name}")


def secrets(lab, namespace: str, set_name: str) -> list[dict]:
    return lab.objects(f"/api/v1/namespaces/{namespace}/secrets", f"scalelab.io/set={set_name}")


def namespace_exists(lab, namespace: str) -> bool:
    return lab.request("GET", f"/api/v1/namespaces/{namespace}").status_code == 200


def test_bmo_and_capm3_run_on_loopback(hosts_lab):
    for program in ("metal3-baremetal-operator", "metal3-capm3"):
        pid = hosts_lab.pid(program)
        assert pid, hosts_lab.supervisorctl("status").stdout
        addrs = listeners_of(pid)
        assert addrs, f"{program} listens on nothing"
        # CAPM3 v1.7 has no flag for its webhook server's address (controller-runtime binds every address).
        webhook = f":{hosts_lab.vars['metal3_stack_port_base'] + 10}"
        assert [a for a in addrs if not a.startswith("127.0.0.1:") and not a.endswith(webhook)] == [], addrs
    crds = hosts_lab.objects("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    names = {c["metadata"]["name"] for c in crds}
    want = {"baremetalhosts.metal3.io", "metal3machines.infrastructure.cluster.x-k8s.io", "ippools.ipam.metal3.io"}
    assert want <= names


def test_hosts_are_available_and_the_first_k_provisioned(hosts_lab):
    found = bmhs(hosts_lab, "itest-metal3", "ith")
    assert len(found) == 12
    states = {h["metadata"]["name"]: h["status"]["provisioning"]["state"] for h in found}
    provisioned = sorted(n for n, s in states.items() if s == "provisioned")
    assert provisioned == ["ith-0001", "ith-0002", "ith-0003"], states
    assert sorted(set(states.values())) == ["available", "provisioned"], states
    macs = {h["spec"]["bootMACAddress"] for h in found}
    bmcs = {h["spec"]["bmc"]["address"] for h in found}
    assert len(macs) == 12 and len(bmcs) == 12
    sec = {s["metadata"]["name"]: s for s in secrets(hosts_lab, "itest-metal3", "ith")}
    for h in found:
        s = sec[h["spec"]["bmc"]["credentialsName"]]
        assert s["metadata"]["labels"]["environment.metal3.io"] == "baremetal"
        assert base64.b64decode(s["data"]["password"]) == b"password"


def test_results_report_time_to_available_and_provisioning(hosts_lab):
    with open(os.path.join(hosts_lab.dir, "results", "ith", "latest", "ith.json")) as f:
        doc = json.load(f)
    s = doc["summary"]
    # hosts_available counts every host that reached available, the provisioned ones included.
    assert s["hosts"] == 12 and s["hosts_available"] == 12 and s["hosts_provisioned"] == 3, s
    assert 0 <= s["host_available_p50_seconds"] <= s["host_available_max_seconds"] < 300
    assert s["host_provision_p50_seconds"] is not None and s["host_provision_p50_seconds"] >= 0
    assert doc["run"]["stack"] == "capi-1.7" and doc["run"]["versions"]["baremetal_operator"] == "v0.6.0"
    with open(os.path.join(hosts_lab.dir, "results", "ith", "latest", "ith.md")) as f:
        md = f.read()
    assert "BareMetalHost" in md and "available" in md
    assert "ith.md" in hosts_lab.hosts_converge["stdout"]


def test_fewer_provisioned_deprovisions_the_others(hosts_lab):
    # The scenario's image (scale.yml's default): only the number of provisioned hosts changes.
    image = {
        "url": "http://127.0.0.1/images/scalelab.qcow2",
        "checksum": "http://127.0.0.1/images/scalelab.qcow2.sha256sum",
        "checksum_type": "sha256",
        "disk_format": "qcow2",
    }
    args = {"kubeconfig": hosts_lab.kubeconfig, "name": "ith", "count": 12, "namespace": "itest-metal3", "image": image}
    check = hosts_lab.module("bmh_bulk", check=True, provisioned=1, **args)
    assert check["changed"] and check["hosts"]["image_removed"] == 2, check
    assert len([h for h in bmhs(hosts_lab, "itest-metal3", "ith") if h["spec"].get("image")]) == 3
    res = hosts_lab.module(
        "bmh_bulk", provisioned=1, wait={"provisioning_state": "provisioned", "count": 1, "timeout": 120}, **args
    )
    assert res["rc"] == 0 and res["hosts"]["image_removed"] == 2, res
    with_image = sorted(h["metadata"]["name"] for h in bmhs(hosts_lab, "itest-metal3", "ith") if h["spec"].get("image"))
    assert with_image == ["ith-0001"]
    back = hosts_lab.module(
        "bmh_bulk", provisioned=3, wait={"provisioning_state": "provisioned", "timeout": 120}, **args
    )
    assert back["rc"] == 0 and back["hosts"]["image_set"] == 2, back


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"mac_prefix": "03:00:00"}, "mac_prefix='03:00:00' is a multicast prefix"),
        ({"mac_prefix": "zz:00"}, "mac_prefix='zz:00' must be three hex octets"),
        ({"bmc_address_pattern": "ipmi://10.0.0.1:623"}, "BMC addresses must be unique"),
        ({"provisioned": 5}, "provisioned=5 must be between 0 and count=2"),
        ({"provisioned": 1}, "provisioned=1 needs image"),
        ({"bmc_network": "10.0.0.0/31"}, "bmc_network=10.0.0.0/31 has 0 host addresses"),
        ({"host_spec": {"online": False}}, "host_spec.online: set by bmh_bulk itself"),
        ({"host_spec": {"bootMode": "sideways"}}, "is refused"),
    ],
)
def test_bad_input_is_refused_before_any_write(hosts_lab, args, message):
    res = hosts_lab.module(
        "bmh_bulk", kubeconfig=hosts_lab.kubeconfig, name="bad", count=2, namespace="itest-bad", **args
    )
    assert res.get("failed") and message in res["msg"], res
    assert bmhs(hosts_lab, "itest-bad", "bad") == [] if namespace_exists(hosts_lab, "itest-bad") else True
    assert not namespace_exists(hosts_lab, "itest-bad") or secrets(hosts_lab, "itest-bad", "bad") == []


def test_bmc_password_stays_out_of_verbose_output(hosts_lab):
    password = "pw-9f3c1e-itest"
    args = {"kubeconfig": hosts_lab.kubeconfig, "name": "pw", "count": 2, "namespace": "itest-pw"}
    cmd = hosts_lab.module_cmd("bmh_bulk", bmc_password=password, bmc_username="itest-admin", **args) + ["-vvv"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert password not in proc.stdout + proc.stderr
    # The user name is no secret: marked no_log, Ansible would mask every "admin" of the output as well.
    assert "itest-admin" in proc.stdout + proc.stderr
    stored = secrets(hosts_lab, "itest-pw", "pw")
    assert [base64.b64decode(s["data"]["password"]).decode() for s in stored] == [password, password]
    # Nor in anything the lab writes once BMO has read the hosts' credentials (logs, results, Prometheus' data),
    # and no private key either.
    hosts_lab.module("bmh_wait", kubeconfig=hosts_lab.kubeconfig, name="pw", count=2, timeout=120)
    leaked = files_leaking(hosts_lab.dir, key_material(hosts_lab.dir), also=(password,))
    assert leaked == {}, leaked
    gone = hosts_lab.module("bmh_bulk", state="absent", **args)
    assert gone["rc"] == 0 and gone["changed"], gone
    assert not namespace_exists(hosts_lab, "itest-pw")


def test_interrupted_create_resumes_and_delete_leaves_nothing(hosts_lab):
    args = {"kubeconfig": hosts_lab.kubeconfig, "name": "res", "count": 60, "namespace": "itest-res"}
    # Slow on purpose (5 calls/s, 2 objects per host) so the kill lands mid-run.
    cmd = hosts_lab.module_cmd("bmh_bulk", qps=5, burst=1, concurrency=2, **args)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if namespace_exists(hosts_lab, "itest-res") and len(bmhs(hosts_lab, "itest-res", "res")) >= 8:
                break
            time.sleep(0.5)
    finally:
        # The whole tree: Ansible's workers run in sessions of their own, the module under them.
        for pid in [proc.pid, *descendants(proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    time.sleep(2)  # calls already sent may still land
    before = {h["metadata"]["name"] for h in bmhs(hosts_lab, "itest-res", "res")}
    time.sleep(3)
    assert len(bmhs(hosts_lab, "itest-res", "res")) == len(before), "a writer survived the kill"
    assert 8 <= len(before) < 60, len(before)
    # Secrets are written before their host: a host never lacks its credentials, even when cut off.
    sec = {s["metadata"]["name"] for s in secrets(hosts_lab, "itest-res", "res")}
    assert {f"{h}-bmc-secret" for h in before} <= sec

    res = hosts_lab.module("bmh_bulk", **args)
    assert res["rc"] == 0 and res["hosts"]["existing_before"] == len(before), res
    assert res["hosts"]["created"] == 60 - len(before)
    after = bmhs(hosts_lab, "itest-res", "res")
    assert len(after) == 60 and len(secrets(hosts_lab, "itest-res", "res")) == 60
    assert len({h["spec"]["bootMACAddress"] for h in after}) == 60
    again = hosts_lab.module("bmh_bulk", **args)
    assert again["rc"] == 0 and not again["changed"], again

    check = hosts_lab.module("bmh_bulk", check=True, state="absent", **args)
    assert check["changed"] and len(bmhs(hosts_lab, "itest-res", "res")) == 60
    gone = hosts_lab.module("bmh_bulk", state="absent", **args)
    assert gone["rc"] == 0 and gone["changed"], gone
    assert not namespace_exists(hosts_lab, "itest-res")
    assert hosts_lab.module("bmh_bulk", state="absent", **args)["changed"] is False


def test_apiserver_restart_and_a_killed_bmo_mid_bulk_lose_nothing(hosts_lab):
    """kube-apiserver restarted while bmh_bulk writes and the Bare Metal Operator killed (SIGKILL) while it
    registers the hosts: exactly N hosts, each with its Secret, all available once the supervisor brought BMO back."""
    n = 20
    args = {"kubeconfig": hosts_lab.kubeconfig, "name": "flt", "count": n, "namespace": "itest-flt"}
    proc = hosts_lab.module_start("bmh_bulk", qps=5, burst=1, concurrency=2, **args)
    deadline = time.monotonic() + 120
    while not (namespace_exists(hosts_lab, "itest-flt") and len(bmhs(hosts_lab, "itest-flt", "flt")) >= 5):
        assert time.monotonic() < deadline and proc.poll() is None, "the run made no progress"
        time.sleep(0.3)
    assert "started" in hosts_lab.supervisorctl("restart", "kube-apiserver").stdout
    bmo = hosts_lab.pid("metal3-baremetal-operator")
    os.kill(bmo, signal.SIGKILL)
    res = hosts_lab.module_end(proc)
    assert res["rc"] == 0, res
    assert sum(res["calls"]["retries"].values()) > 0, res["calls"]
    found = bmhs(hosts_lab, "itest-flt", "flt")
    names = [h["metadata"]["name"] for h in found]
    print(
        f"FAULT kube-apiserver restarted and BMO killed mid bmh_bulk: expected {n}, present {len(set(names))}, "
        f"duplicated {len(names) - len(set(names))}, retries {res['calls']['retries']}"
    )
    assert sorted(names) == [f"flt-{i:04d}" for i in range(1, n + 1)]
    assert len(secrets(hosts_lab, "itest-flt", "flt")) == n
    assert len({h["spec"]["bootMACAddress"] for h in found}) == n
    assert hosts_lab.pid("metal3-baremetal-operator") not in (0, bmo)
    wait = hosts_lab.module("bmh_wait", kubeconfig=hosts_lab.kubeconfig, name="flt", count=n, timeout=300)
    assert wait["rc"] == 0, wait
    gone = hosts_lab.module("bmh_bulk", state="absent", **args)
    assert gone["rc"] == 0 and not namespace_exists(hosts_lab, "itest-flt"), gone
