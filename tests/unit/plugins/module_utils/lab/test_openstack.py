from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.lab import openstack


@pytest.mark.parametrize(
    ("count", "owned", "create", "delete"),
    [
        (3, [], ["f-01", "f-02", "f-03"], []),
        (3, ["f-01", "f-02", "f-03"], [], []),
        (4, ["f-01", "f-02", "f-03"], ["f-04"], []),
        (1, ["f-01", "f-02", "f-03"], [], ["f-02", "f-03"]),
        (0, ["f-01", "f-02"], [], ["f-01", "f-02"]),
        (2, ["f-01", "f-03"], ["f-02"], ["f-03"]),  # a hole left by hand is filled, the extra one goes
        (100, [], [f"f-{i:02d}" for i in range(1, 101)], []),
    ],
)
def test_plan_makes_exactly_owner_01_to_count(count, owned, create, delete):
    got = openstack.plan("f", count, owned)
    assert got["create"] == sorted(create) and got["delete"] == delete
    assert sorted(got["keep"] + got["create"]) == sorted(openstack.server_name("f", i) for i in range(1, count + 1))


@pytest.mark.parametrize(
    ("name", "index"),
    [("farm-01", 1), ("farm-120", 120), ("farm-x", None), ("farm2-01", None), ("other-01", None), ("farm-01-b", None)],
)
def test_index_of_only_the_owners_names(name, index):
    assert openstack.index_of("farm", name) == index


LIMITS = {
    "maxTotalInstances": 10,
    "totalInstancesUsed": 8,
    "maxTotalCores": 20,
    "totalCoresUsed": 16,
    "maxTotalRAMSize": 51200,
    "totalRAMUsed": 0,
}


@pytest.mark.parametrize(
    ("absolute", "servers", "lacking"),
    [
        (LIMITS, 2, []),
        (LIMITS, 3, ["3 instances needed, 2 left (quota 10, used 8)", "6 vCPUs needed, 4 left (quota 20, used 16)"]),
        ({**LIMITS, "maxTotalInstances": -1, "maxTotalCores": -1, "maxTotalRAMSize": -1}, 50, []),  # -1: none
        ({**LIMITS, "totalRAMUsed": 51000}, 1, ["4096 MiB of RAM needed, 200 left (quota 51200, used 51000)"]),
        ({}, 5, []),  # a cloud that reports no limits
        (LIMITS, 0, []),
    ],
)
def test_shortfall_names_each_resource_that_lacks(absolute, servers, lacking):
    assert openstack.shortfall(absolute, servers, vcpus=2, ram_mib=4096) == lacking


@pytest.mark.parametrize(
    ("addresses", "address"),
    [
        ({}, ""),
        (None, ""),
        ({"net": [{"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed"}]}, "10.0.0.5"),
        (
            {
                "net": [
                    {"addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed"},
                    {"addr": "172.24.4.9", "OS-EXT-IPS:type": "floating"},
                ]
            },
            "172.24.4.9",
        ),
        ({"b": [{"addr": "10.1.0.2"}], "a": [{"addr": "10.0.0.2"}]}, "10.0.0.2"),  # networks in name order
    ],
)
def test_address_prefers_a_floating_ip(addresses, address):
    assert openstack.address_of(addresses) == address


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"owner": "Farm", "count": 1, "image": "i", "flavor": "f"}, "owner='Farm'"),
        ({"owner": "f" * 41, "count": 1, "image": "i", "flavor": "f"}, "1-40 characters"),
        ({"owner": "-farm", "count": 1, "image": "i", "flavor": "f"}, "owner='-farm'"),
        ({"owner": "farm", "count": -1, "image": "i", "flavor": "f"}, "count=-1 must be >= 0"),
        ({"owner": "farm", "count": 2, "image": "", "flavor": "f"}, "image is required when count > 0"),
        ({"owner": "farm", "count": 2, "image": "i", "flavor": ""}, "flavor is required when count > 0"),
    ],
)
def test_validate_names_the_option(params, message):
    with pytest.raises(openstack.CheckError, match=message.replace("(", r"\(").replace(")", r"\)")):
        openstack.validate(params)


def test_validate_accepts_absent_without_image_or_flavor():
    openstack.validate({"owner": "farm", "count": 0, "image": "", "flavor": ""})
