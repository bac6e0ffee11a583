from __future__ import annotations

import base64
import copy
import re

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import hosts as hostset
from ansible_collections.scalelab.capi.plugins.module_utils.sets.hosts import HostRenderer, Member, SetError


def params(**kw):
    """bmh_bulk's module parameters with their documented defaults."""
    p = {
        "name": "hosts",
        "count": 3,
        "name_pattern": "{name}-{index:04d}",
        "namespace": "metal3",
        "labels": {},
        "online": True,
        "host_spec": {},
        "mac_prefix": "02:5c:a1",
        "bmc_address_pattern": "ipmi://{ip}:623",
        "bmc_network": "10.200.0.0/16",
        "bmc_username": "admin",
        "bmc_password": "password",
    }
    p.update(kw)
    return p


M1 = Member(1, "hosts-0001", "metal3")


@pytest.mark.parametrize(
    ("prefix", "index", "expected"),
    [
        ("02:5c:a1", 1, "02:5c:a1:00:00:01"),
        ("02:5c:a1", 255, "02:5c:a1:00:00:ff"),
        ("02:5c:a1", 256, "02:5c:a1:00:01:00"),
        ("02:5c:a1", 65535, "02:5c:a1:00:ff:ff"),
        ("02:5c:a1", 65536, "02:5c:a1:01:00:00"),
        ("02:5c:a1", 0xABCDEF, "02:5c:a1:ab:cd:ef"),
        ("02:5c:a1", 0xFFFFFF, "02:5c:a1:ff:ff:ff"),  # the last index that fits
        ("02:5C:A1", 10, "02:5c:a1:00:00:0a"),  # upper case prefix comes out lower case
        ("00:00:00", 1, "00:00:00:00:00:01"),
        ("fe:ff:ff", 2, "fe:ff:ff:00:00:02"),  # 0xfe: even, unicast
    ],
)
def test_mac_address(prefix, index, expected):
    assert hostset.mac_address(prefix, index) == expected


# A prefix is named as repr() shows it: quoted, a newline as \n. Each message is matched whole.
@pytest.mark.parametrize(
    "prefix", ["02:5c", "02:5c:a1:00", "", "2:5c:a1", "002:5c:a1", "02:5g:a1", "02-5c-a1", " 02:5c:a1", "02:5c:a1\n"]
)
def test_mac_address_rejects_a_malformed_prefix(prefix):
    with pytest.raises(
        SetError, match=rf"^mac_prefix={re.escape(repr(prefix))} must be three hex octets like '02:5c:a1'$"
    ):
        hostset.mac_address(prefix, 1)


@pytest.mark.parametrize("prefix", ["01:5c:a1", "ff:ff:ff", "03:00:00"])
def test_mac_address_rejects_a_multicast_prefix(prefix):
    shown = re.escape(repr(prefix))
    with pytest.raises(
        SetError, match=rf"^mac_prefix={shown} is a multicast prefix \(lowest bit of the first octet set\)$"
    ):
        hostset.mac_address(prefix, 1)


@pytest.mark.parametrize("index", [0, -1, 0x1000000])
def test_mac_address_rejects_an_index_beyond_the_prefix(index):
    with pytest.raises(
        SetError, match=rf"^count: index {index} does not fit the 3 free octets of mac_prefix \(max 16777215\)$"
    ):
        hostset.mac_address("02:5c:a1", index)


def test_secret():
    r = HostRenderer(params(labels={"team": "metal"}, bmc_username="root", bmc_password="s3cr:t ✓"))
    assert r.secret(M1) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "hosts-0001-bmc-secret",
            "namespace": "metal3",
            "labels": {
                "team": "metal",
                "scalelab.io/set": "hosts",
                "scalelab.io/index": "1",
                "environment.metal3.io": "baremetal",
            },
        },
        "type": "Opaque",
        "data": {"username": "cm9vdA==", "password": base64.b64encode("s3cr:t ✓".encode()).decode()},
    }
    data = r.secret(M1)["data"]
    assert base64.b64decode(data["password"]).decode() == "s3cr:t ✓"


@pytest.mark.parametrize(
    ("user", "password", "expected"),
    [
        ("admin", "password", {"username": "YWRtaW4=", "password": "cGFzc3dvcmQ="}),
        ("a", "ab", {"username": "YQ==", "password": "YWI="}),
    ],
)
def test_secret_credentials_are_base64(user, password, expected):
    r = HostRenderer(params(bmc_username=user, bmc_password=password))
    assert r.secret(M1)["data"] == expected


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [
        ("", "password", "bmc_username is empty"),
        ("admin", "", "bmc_password is empty: the BMC credential Secret BMO reads needs one"),
        ("admin", "   ", "bmc_password is empty"),
    ],
)
def test_empty_bmc_credentials_are_refused(user, password, message):
    with pytest.raises(SetError, match=message):
        HostRenderer(params(bmc_username=user, bmc_password=password))


def test_host():
    r = HostRenderer(params(labels={"team": "metal"}, host_spec={"bootMode": "UEFI"}))
    m = Member(300, "hosts-0300", "metal3")
    assert r.host(m) == {
        "apiVersion": "metal3.io/v1alpha1",
        "kind": "BareMetalHost",
        "metadata": {
            "name": "hosts-0300",
            "namespace": "metal3",
            "labels": {"team": "metal", "scalelab.io/set": "hosts", "scalelab.io/index": "300"},
        },
        "spec": {
            "bootMode": "UEFI",
            "bmc": {"address": "ipmi://10.200.1.44:623", "credentialsName": "hosts-0300-bmc-secret"},
            "bootMACAddress": "02:5c:a1:00:01:2c",
            "online": True,
        },
    }


@pytest.mark.parametrize(
    ("image", "online", "expected_image"),
    [
        (None, True, None),
        ({}, False, None),  # an empty image sets none
        ({"url": "http://img/a.qcow2"}, True, {"url": "http://img/a.qcow2"}),
    ],
)
def test_host_image_and_online(image, online, expected_image):
    spec = HostRenderer(params(online=online)).host(M1, image)["spec"]
    assert spec.get("image") == expected_image
    assert ("image" in spec) is (expected_image is not None)
    assert spec["online"] is online


def test_set_labels_win_over_extra_labels():
    r = HostRenderer(params(labels={"scalelab.io/set": "spoof", "scalelab.io/index": "9", "owner": "x"}))
    expected = {"scalelab.io/set": "hosts", "scalelab.io/index": "1", "owner": "x"}
    assert r.host(M1)["metadata"]["labels"] == expected
    assert r.secret(M1)["metadata"]["labels"] == {**expected, "environment.metal3.io": "baremetal"}


@pytest.mark.parametrize(
    ("pattern", "network", "member", "expected"),
    [
        ("ipmi://{ip}:623", "10.200.0.0/16", M1, "ipmi://10.200.0.1:623"),
        ("ipmi://{ip}:623", "10.200.0.0/16", Member(256, "h", "ns"), "ipmi://10.200.1.0:623"),
        ("ipmi://{ip}:623", "10.200.7.9/16", M1, "ipmi://10.200.0.1:623"),  # host bits are ignored
        (
            "redfish://{ip}/redfish/v1/Systems/{index}",
            "192.168.10.0/24",
            Member(5, "h", "n"),
            "redfish://192.168.10.5/redfish/v1/Systems/5",
        ),
        ("redfish-virtualmedia://bmc.lab/{name}", "10.0.0.0/8", M1, "redfish-virtualmedia://bmc.lab/hosts-0001"),
        ("ipmi://10.1.0.{index:d}", "10.0.0.0/8", Member(42, "h", "n"), "ipmi://10.1.0.42"),
        ("ipmi://[{ip}]:623", "fd00::/64", Member(17, "h", "n"), "ipmi://[fd00::11]:623"),
    ],
)
def test_bmc_address(pattern, network, member, expected):
    r = HostRenderer(params(bmc_address_pattern=pattern, bmc_network=network))
    assert r.bmc_address(member) == expected


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("ipmi://{host}:623", "KeyError"),
        ("ipmi://{0}:623", "IndexError"),
        ("ipmi://{ip.port}", "AttributeError"),
        ("ipmi://{ip[0]}", "TypeError"),
        ("ipmi://{index:q}", "ValueError"),
        ("ipmi://{ip", "ValueError"),
    ],
)
def test_bmc_address_rejects(pattern, error):
    r = HostRenderer(params(bmc_address_pattern=pattern))
    fields = re.escape("; use the fields {ip}, {index} and {name}, e.g. 'ipmi://{ip}:623'")
    match = rf"^bmc_address_pattern={re.escape(repr(pattern))}: {error}\(.*\){fields}$"
    with pytest.raises(SetError, match=match):
        r.bmc_address(M1)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"bmc_network": "10.200.0.0/33"}, r"^bmc_network='10.200.0.0/33': "),
        ({"bmc_network": "not-a-network"}, r"^bmc_network='not-a-network': "),
        ({"bmc_network": ""}, r"^bmc_network='': "),
        ({"host_spec": {"bmc": {"address": "x"}}}, r"^host_spec.bmc: set by bmh_bulk itself"),
        ({"host_spec": {"bootMACAddress": "aa:bb"}}, r"^host_spec.bootMACAddress: set by bmh_bulk itself"),
        ({"host_spec": {"bootMode": "UEFI", "online": False}}, r"^host_spec.online: set by bmh_bulk itself"),
        ({"host_spec": {"image": {"url": "u"}}}, r"^host_spec.image: set by bmh_bulk itself \(use bmc_\*"),
    ],
)
def test_renderer_rejects(override, match):
    with pytest.raises(SetError, match=match):
        HostRenderer(params(**override))


def test_renderer_accepts_no_host_spec_and_keeps_copies():
    p = params(host_spec=None)
    assert "bootMode" not in HostRenderer(p).host(M1)["spec"]
    labels, spec = {"a": "1"}, {"bootMode": "UEFI"}
    r = HostRenderer(params(labels=labels, host_spec=spec))
    labels["a"] = "2"
    spec["bootMode"] = "legacy"
    host = r.host(M1)
    assert host["metadata"]["labels"]["a"] == "1"
    assert host["spec"]["bootMode"] == "UEFI"


@pytest.mark.parametrize(
    ("override", "count"),
    [
        ({}, 0),
        ({}, 1),
        ({}, 1000),
        ({"bmc_network": "10.0.0.0/30"}, 2),  # 2 host addresses: .1 and .2
        ({"bmc_network": "10.0.0.0/24"}, 254),
        ({"bmc_address_pattern": "ipmi://bmc.lab/{name}"}, 5),
        ({"bmc_address_pattern": "ipmi://10.9.9.9:{index}"}, 5),
        ({"bmc_address_pattern": "ipmi://10.9.9.9:623"}, 1),  # one host may have a constant address
        ({"mac_prefix": "not-a-prefix"}, 0),  # an empty set checks nothing
        ({"bmc_network": "10.0.0.0/32"}, 0),
    ],
)
def test_check_accepts(override, count):
    p = params(count=count, **override)
    set_members = hostset.host_members(p)
    assert HostRenderer(p).check(set_members) is None


@pytest.mark.parametrize(
    ("override", "count", "match"),
    [
        ({"bmc_network": "10.0.0.0/30"}, 3, r"^bmc_network=10.0.0.0/30 has 2 host addresses; count=3 needs more$"),
        ({"bmc_network": "10.0.0.0/24"}, 255, r"^bmc_network=10.0.0.0/24 has 254 host addresses; count=255 needs"),
        ({"bmc_network": "10.0.0.0/32"}, 1, r"^bmc_network=10.0.0.0/32 has -1 host addresses; count=1 needs more$"),
        ({"mac_prefix": "01:00:00"}, 1, r"^mac_prefix='01:00:00' is a multicast prefix"),
        ({"mac_prefix": "02:5c"}, 2, r"^mac_prefix='02:5c' must be three hex octets"),
        (
            {"bmc_address_pattern": "ipmi://10.9.9.9:623"},
            2,
            r"^bmc_address_pattern='ipmi://10.9.9.9:623' gives 'ipmi://10.9.9.9:623' for index 1 and 2: "
            r"BMC addresses must be unique \(use \{ip\} or \{index\}\)$",
        ),
        (
            {"bmc_address_pattern": "ipmi://bmc/{name:.9}"},  # hosts-000 for 1..9, hosts-001 for 10..12
            12,
            r"^bmc_address_pattern=.* gives 'ipmi://bmc/hosts-000' for index 1 and 2: BMC addresses must be unique",
        ),
        ({"bmc_address_pattern": "ipmi://{nope}"}, 1, r"^bmc_address_pattern='ipmi://\{nope\}': KeyError"),
    ],
)
def test_check_rejects(override, count, match):
    p = params(count=count, **override)
    r = HostRenderer(p)
    with pytest.raises(SetError, match=match):
        r.check(hostset.host_members(p))


def test_check_mac_overflow_names_count():
    r = HostRenderer(params(bmc_network="10.0.0.0/7"))  # room for more hosts than the MAC has
    with pytest.raises(SetError, match=r"^count: index 16777216 does not fit"):
        r.check([Member(1, "a", "n"), Member(0x1000000, "b", "n")])
    r.check([Member(0xFFFFFF, "b", "n")])


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (None, None),
        ({}, None),
        ({"url": "http://i/a.img"}, {"url": "http://i/a.img"}),
        (
            {"url": "http://i/a.img", "checksum": None, "checksum_type": "sha256", "disk_format": None},
            {"url": "http://i/a.img"},  # a checksum type without a checksum is not written
        ),
        (
            {"url": "http://i/a.img", "checksum": "abc", "checksum_type": "sha256"},
            {"url": "http://i/a.img", "checksum": "abc", "checksumType": "sha256"},
        ),
        (
            {"url": "http://i/a.img", "checksum": "http://i/a.img.sha256sum"},
            {"url": "http://i/a.img", "checksum": "http://i/a.img.sha256sum", "checksumType": "auto"},
        ),
        (
            {"url": "u", "checksum": "abc", "checksum_type": None},
            {"url": "u", "checksum": "abc", "checksumType": "auto"},
        ),
        (
            {"url": "u", "checksum": "", "checksum_type": "md5", "disk_format": "qcow2"},
            {"url": "u", "format": "qcow2"},
        ),
        (
            {"url": "u", "checksum": "c", "checksum_type": "sha512", "disk_format": "live-iso"},
            {"url": "u", "checksum": "c", "checksumType": "sha512", "format": "live-iso"},
        ),
    ],
)
def test_image_spec(image, expected):
    assert hostset.image_spec(image) == expected


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"count": 0}, []),
        ({"count": 2}, [Member(1, "hosts-0001", "metal3"), Member(2, "hosts-0002", "metal3")]),
        ({"count": 1, "name_pattern": "bm{index}", "namespace": "lab"}, [Member(1, "bm1", "lab")]),
    ],
)
def test_host_members(override, expected):
    assert hostset.host_members(params(**override)) == expected


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"name": "Hosts"}, r"^name='Hosts' must be a DNS label"),
        ({"count": -1}, r"^count=-1 must be >= 0$"),
        ({"count": 2, "name_pattern": "{name}"}, r"names must be unique"),
        ({"namespace": "Metal3"}, r"^namespace='Metal3' must be a DNS label"),
    ],
)
def test_host_members_rejects(override, match):
    with pytest.raises(SetError, match=match):
        hostset.host_members(params(**override))


def test_host_members_share_the_namespace():
    # Unlike cluster sets, hosts never get a namespace each.
    assert {m.namespace for m in hostset.host_members(params(count=50))} == {"metal3"}


def _render_all(p, image):
    r = HostRenderer(p)
    set_members = hostset.host_members(p)
    r.check(set_members)
    return [(r.secret(m), r.host(m, image)) for m in set_members]


def test_rendering_1000_hosts_is_deterministic_and_unique():
    p = params(count=1000, labels={"team": "metal"}, host_spec={"bootMode": "UEFI"})
    before = copy.deepcopy(p)
    image = hostset.image_spec({"url": "http://i/a.img", "checksum": "abc"})
    first = _render_all(p, image)
    second = _render_all(copy.deepcopy(p), image)
    assert first == second
    assert p == before  # the parameters are not mutated
    secrets = [s for s, _dummy in first]
    hosts = [h for _dummy, h in first]
    assert len(hosts) == 1000
    for field in (
        lambda h: h["metadata"]["name"],
        lambda h: h["spec"]["bootMACAddress"],
        lambda h: h["spec"]["bmc"]["address"],
        lambda h: h["spec"]["bmc"]["credentialsName"],
        lambda h: h["metadata"]["labels"]["scalelab.io/index"],
    ):
        assert len({field(h) for h in hosts}) == 1000
    assert len({s["metadata"]["name"] for s in secrets}) == 1000
    # Each host points at its own Secret, and index i gets the MAC and the BMC address of i.
    assert [h["spec"]["bmc"]["credentialsName"] for h in hosts] == [s["metadata"]["name"] for s in secrets]
    assert hosts[0]["spec"]["bootMACAddress"] == "02:5c:a1:00:00:01"
    assert hosts[999]["spec"]["bootMACAddress"] == "02:5c:a1:00:03:e8"
    assert hosts[999]["spec"]["bmc"]["address"] == "ipmi://10.200.3.232:623"
    assert hosts[999]["metadata"]["name"] == "hosts-1000"
    assert all(
        h["spec"]["image"] == {"url": "http://i/a.img", "checksum": "abc", "checksumType": "auto"} for h in hosts
    )
    # Labels are per object: changing one host's leaves the others alone.
    hosts[0]["metadata"]["labels"]["team"] = "changed"
    assert hosts[1]["metadata"]["labels"]["team"] == "metal"
    assert second[0][1]["metadata"]["labels"]["team"] == "metal"
