"""The openstack_vms role against real OpenStack services on loopback: keystone, placement, glance, nova (fake
compute driver: servers go ACTIVE without a hypervisor) and neutron (ML2 without agents), from PyPI, with Debian's
MariaDB and RabbitMQ (hack/openstack-aio). Create, re-run (changed=0), scale up and down, check mode, bad inputs
refused before anything changes, and state=absent deleting what the role made and nothing else."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
import yaml

from .lab import BIN, ROOT

# No lab: hack/test runs it beside the quick start.
pytestmark = pytest.mark.aside

AIO = os.path.join(ROOT, "hack", "openstack-aio")
OWNER = "itfarm"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """The all-in-one cloud (installed once per machine, started fresh), stopped after the module."""
    state = str(tmp_path_factory.mktemp("osaio"))
    env = dict(os.environ, OSAIO_STATE=state)
    started = time.monotonic()
    up = subprocess.run(["bash", os.path.join(AIO, "ensure.sh")], env=env, capture_output=True, text=True, check=False)
    print(f"OPENSTACK all-in-one ready in {time.monotonic() - started:.0f} s")
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield {"state": state, "clouds": os.path.join(state, "clouds.yaml")}
    finally:
        subprocess.run(["bash", os.path.join(AIO, "stop.sh")], env=env, capture_output=True, check=False)


@pytest.fixture(scope="module")
def sdk(cloud):
    import openstack
    import openstack.config
    import openstack.connection

    region = openstack.config.OpenStackConfig(config_files=[cloud["clouds"]]).get_one(cloud="osaio")
    conn = openstack.connection.Connection(config=region)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    d = tmp_path_factory.mktemp("key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return str(d / "id.pub")


def converge(cloud, key, tmp_path, check=False, **extra) -> dict:
    vars_ = {
        "openstack_vms_cloud": "osaio",
        "openstack_vms_name": OWNER,
        "openstack_vms_count": 2,
        "openstack_vms_image": "tiny",
        "openstack_vms_flavor": "m1.tiny",
        "openstack_vms_public_key_file": key,
        "openstack_vms_management_cidr": "10.20.0.1/32",
        "openstack_vms_farm_port_min": 30000,
        "openstack_vms_farm_port_max": 30099,
        "openstack_vms_wait_timeout": 120,
        "openstack_vms_inventory_file": str(tmp_path / "farm.yml"),
        **extra,
    }
    path = tmp_path / "vars.json"
    path.write_text(json.dumps(vars_))
    cmd = [os.path.join(BIN, "ansible-playbook"), "playbooks/openstack_vms.yml", "-e", f"@{path}"]
    if check:
        cmd.append("--check")
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=cloud["clouds"], ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    m = re.search(r"^localhost\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
    recap = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))} if m else {}
    return {"rc": proc.returncode, "recap": recap, "out": " ".join(proc.stdout.split()), "stdout": proc.stdout}


def owned(sdk) -> dict[str, str]:
    return {
        s.name: s.id for s in sdk.compute.servers(details=True) if (s.metadata or {}).get("scalelab_owner") == OWNER
    }


def test_create_rerun_scale_and_check_mode(cloud, sdk, key, tmp_path):
    started = time.monotonic()
    first = converge(cloud, key, tmp_path)
    took = time.monotonic() - started
    assert first["rc"] == 0, first["stdout"][-4000:]
    print(f"OPENSTACK 2 VMs created and ACTIVE in {took:.0f} s (playbook)")
    servers = owned(sdk)
    assert sorted(servers) == [f"{OWNER}-01", f"{OWNER}-02"]
    assert all(sdk.compute.get_server(i).status == "ACTIVE" for i in servers.values())
    # The generated inventory: both VMs in group farm, reachable on their fixed addresses.
    inv = yaml.safe_load((tmp_path / "farm.yml").read_text())
    hosts = inv["all"]["children"]["farm"]["hosts"]
    assert sorted(hosts) == sorted(servers)
    assert all(
        re.fullmatch(r"10\.250\.0\.\d+", h["ansible_host"]) and h["ansible_user"] == "debian" for h in hosts.values()
    )
    graph = subprocess.run(
        [os.path.join(BIN, "ansible-inventory"), "-i", str(tmp_path / "farm.yml"), "--graph"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert graph.returncode == 0 and "@farm:" in graph.stdout, graph.stdout + graph.stderr
    assert f"|--{OWNER}-01" in graph.stdout and f"|--{OWNER}-02" in graph.stdout, graph.stdout
    # Only SSH and the farm's ports, only from the management address.
    group = sdk.network.find_security_group(f"{OWNER}-farm")
    ingress = sorted(
        (r.port_range_min, r.port_range_max, r.remote_ip_prefix)
        for r in sdk.network.security_group_rules(security_group_id=group.id)
        if r.direction == "ingress"
    )
    assert ingress == [(22, 22, "10.20.0.1/32"), (30000, 30099, "10.20.0.1/32")]

    again = converge(cloud, key, tmp_path)
    assert again["rc"] == 0 and again["recap"]["changed"] == 0, again["stdout"][-4000:]
    assert owned(sdk) == servers

    check = converge(cloud, key, tmp_path, check=True, openstack_vms_count=4)
    assert check["rc"] == 0 and check["recap"]["changed"] > 0, check["stdout"][-4000:]
    assert owned(sdk) == servers

    up = converge(cloud, key, tmp_path, openstack_vms_count=3)
    assert up["rc"] == 0, up["stdout"][-4000:]
    now = owned(sdk)
    assert sorted(now) == [f"{OWNER}-01", f"{OWNER}-02", f"{OWNER}-03"]
    assert {k: now[k] for k in servers} == servers  # the first two are the same servers

    down = converge(cloud, key, tmp_path, openstack_vms_count=1)
    assert down["rc"] == 0, down["stdout"][-4000:]
    assert owned(sdk) == {f"{OWNER}-01": servers[f"{OWNER}-01"]}


BAD = [
    ({"openstack_vms_cloud": "nocloud"}, "cloud=nocloud: not found in clouds.yaml"),
    ({"openstack_vms_image": "no-such-image"}, "image=no-such-image: no such image in the cloud (there are: tiny)"),
    ({"openstack_vms_flavor": "m1.huge"}, "flavor=m1.huge: no such flavor in the cloud"),
    ({"openstack_vms_count": 50}, "more servers of flavor m1.tiny do not fit the project's quota: "),
    ({"openstack_vms_name": "It_Farm"}, "openstack_vms_name=It_Farm must be lowercase letters"),
    ({"openstack_vms_management_cidr": "everyone"}, "openstack_vms_management_cidr=everyone must be"),
    ({"openstack_vms_public_key_file": "/nonexistent.pub"}, "openstack_vms_public_key_file=/nonexistent.pub does not"),
]


@pytest.mark.parametrize(("extra", "message"), BAD, ids=lambda v: str(v)[:40])
def test_bad_input_is_refused_before_anything_changes(cloud, sdk, key, tmp_path, extra, message):
    before = owned(sdk)
    res = converge(cloud, key, tmp_path, **{"openstack_vms_count": 1, **extra})
    assert res["rc"] != 0 and message in res["out"], res["stdout"][-3000:]
    assert res["recap"].get("changed", 0) == 0
    assert owned(sdk) == before


def test_absent_deletes_what_the_role_made_and_nothing_else(cloud, sdk, key, tmp_path):
    assert converge(cloud, key, tmp_path, openstack_vms_count=1)["rc"] == 0
    # Not the role's: a server with the very name of one of its own but without the owner's metadata (deletion is
    # by ID), and a security group.
    image = sdk.image.find_image("tiny")
    net = sdk.network.find_network(f"{OWNER}-net")
    stranger = sdk.compute.create_server(
        name=f"{OWNER}-01",
        image_id=image.id,
        flavor_id=sdk.compute.find_flavor("m1.tiny").id,
        networks=[{"uuid": net.id}],
    )
    other_group = sdk.network.create_security_group(name="not-scalelab")
    try:
        sdk.compute.wait_for_server(stranger, wait=120)
        assert (
            converge(cloud, key, tmp_path, openstack_vms_count=1)["recap"]["changed"] == 0
        )  # a stranger is no reason to act
        gone = converge(cloud, key, tmp_path, openstack_vms_state="absent")
        assert gone["rc"] == 0 and gone["recap"]["changed"] > 0, gone["stdout"][-4000:]
        assert owned(sdk) == {}
        assert sdk.network.find_security_group(f"{OWNER}-farm") is None
        assert sdk.compute.find_keypair(OWNER) is None
        assert not (tmp_path / "farm.yml").exists()
        # The stranger server is still there, and so is the network it is on; the other group as well.
        assert sdk.compute.get_server(stranger.id).status == "ACTIVE"
        assert sdk.network.find_network(f"{OWNER}-net") is not None
        assert sdk.network.find_security_group("not-scalelab") is not None
        again = converge(cloud, key, tmp_path, openstack_vms_state="absent")
        assert again["rc"] == 0 and again["recap"]["changed"] == 0, again["stdout"][-4000:]
    finally:
        sdk.compute.delete_server(stranger, ignore_missing=True)
        sdk.network.delete_security_group(other_group, ignore_missing=True)
