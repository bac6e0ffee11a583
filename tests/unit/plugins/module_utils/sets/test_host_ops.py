from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.sets import host_ops
from ansible_collections.scalelab.capi.plugins.module_utils.sets.hosts import Member, SetError

IMAGE = {"url": "http://img/a.qcow2", "checksum": "abc", "checksum_type": "sha256", "disk_format": "qcow2"}
SPEC = {"url": "http://img/a.qcow2", "checksum": "abc", "checksumType": "sha256", "format": "qcow2"}


WAIT = {"state": "available", "count": None, "timeout": 1800.0, "report_every": 15.0}


def params(**kw):
    """bmh_bulk's module parameters that _validate and _image_changes read, with their defaults."""
    p = {
        "count": 5,
        "provisioned": None,
        "image": None,
        "concurrency": 16,
        "burst": 200,
        "qps": 100.0,
        "batch_pause": 0.0,
        "batch_size": 0,
    }
    p.update(kw)
    return p


MEMBERS = [Member(i, f"h-{i}", "metal3") for i in range(1, 6)]


def found(images: dict[int, str]) -> dict[str, dict]:
    """hosts() output for hosts 1..5 that exist, with the image URL of each ("" for none)."""
    return {f"h-{i}": {"namespace": "metal3", "image": url, "state": "available"} for i, url in images.items()}


ALL_BARE = found(dict.fromkeys(range(1, 6), ""))


@pytest.mark.parametrize(
    ("provisioned", "image", "have", "expected"),
    [
        # Unset provisioned leaves every image alone, whatever the hosts have.
        (None, IMAGE, ALL_BARE, []),
        (None, None, found({1: "http://old", 2: ""}), []),
        # The first `provisioned` get the image, the others lose theirs.
        (2, IMAGE, ALL_BARE, [(1, SPEC), (2, SPEC)]),
        (5, IMAGE, ALL_BARE, [(i, SPEC) for i in range(1, 6)]),
        (0, None, ALL_BARE, []),
        (0, None, found({1: "http://img/a.qcow2", 2: "", 3: "http://old"}), [(1, None), (3, None)]),
        (0, IMAGE, found({4: "http://img/a.qcow2"}), [(4, None)]),
        # Hosts that already have the image URL are left alone; another URL is replaced.
        (
            3,
            IMAGE,
            found({1: "http://img/a.qcow2", 2: "http://old", 3: "", 4: "http://img/a.qcow2", 5: ""}),
            [(2, SPEC), (3, SPEC), (4, None)],
        ),
        (2, IMAGE, found({1: "http://img/a.qcow2", 2: "http://img/a.qcow2"}), []),
        # Hosts not found yet count as having no image (ensure_present creates them with it).
        (2, IMAGE, {}, [(1, SPEC), (2, SPEC)]),
        (2, IMAGE, found({5: "http://img/a.qcow2"}), [(1, SPEC), (2, SPEC), (5, None)]),
        (1, {"url": "http://img/b.raw"}, found({1: "http://img/a.qcow2"}), [(1, {"url": "http://img/b.raw"})]),
    ],
)
def test_image_changes(provisioned, image, have, expected):
    got = host_ops._image_changes(params(provisioned=provisioned, image=image), MEMBERS, have)
    assert [(m.index, img) for m, img in got] == expected
    assert all(m is MEMBERS[m.index - 1] for m, _dummy in got)


def test_image_changes_compares_the_url_only():
    # The checksum is not read back by hosts(): a host with the URL counts as having the image.
    have = found({1: "http://img/a.qcow2"})
    assert host_ops._image_changes(params(provisioned=1, image={**IMAGE, "checksum": "other"}), MEMBERS[:1], have) == []


@pytest.mark.parametrize(
    "override",
    [
        {},
        {"concurrency": 1, "burst": 1},
        {"qps": 0, "batch_pause": 0, "batch_size": 0},
        {"qps": 0.5, "batch_pause": 2.5, "batch_size": 100},
        {"provisioned": 0},  # no image needed to provision none
        {"provisioned": 0, "count": 0},
        {"provisioned": 5, "image": IMAGE},
        {"provisioned": 1, "image": {"url": "u"}},
        {"wait": None},
        {"wait": WAIT},
        {"wait": {**WAIT, "count": 5}},
        {"wait": {**WAIT, "count": 0, "timeout": 0.5}},
    ],
)
def test_validate_accepts(override):
    assert host_ops._validate(params(**override)) is None


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"concurrency": 0}, r"^concurrency=0 must be >= 1$"),
        ({"burst": 0}, r"^burst=0 must be >= 1$"),
        ({"burst": -3}, r"^burst=-3 must be >= 1$"),
        ({"concurrency": 0, "burst": 0}, r"^concurrency=0"),  # the first bad option is named
        ({"qps": -1.0}, r"^qps=-1.0 must be >= 0$"),
        ({"batch_pause": -0.5}, r"^batch_pause=-0.5 must be >= 0$"),
        ({"batch_size": -1}, r"^batch_size=-1 must be >= 0$"),
        ({"provisioned": 6, "image": IMAGE}, r"^provisioned=6 must be between 0 and count=5$"),
        ({"provisioned": -1, "image": IMAGE}, r"^provisioned=-1 must be between 0 and count=5$"),
        ({"provisioned": 1, "count": 0, "image": IMAGE}, r"^provisioned=1 must be between 0 and count=0$"),
        ({"provisioned": 2}, r"^provisioned=2 needs image \(the image BMO writes to those hosts\)$"),
        ({"provisioned": 2, "image": {}}, r"^provisioned=2 needs image"),
        ({"provisioned": 9}, r"^provisioned=9 must be between"),  # the range is checked before the image
        # bmh_bulk's wait runs after the writes: its options are refused before them.
        ({"wait": {**WAIT, "count": 6}}, r"^wait.count=6 must be between 0 and count=5 \(the hosts that can exist\)$"),
        ({"wait": {**WAIT, "count": -1}}, r"^wait.count=-1 must be between 0 and count=5"),
        ({"wait": {**WAIT, "timeout": 0.0}}, r"^wait.timeout=0.0 must be > 0 \(seconds\)$"),
        ({"wait": {**WAIT, "report_every": -1.0}}, r"^wait.report_every=-1.0 must be > 0"),
    ],
)
def test_validate_rejects(override, match):
    with pytest.raises(SetError, match=match):
        host_ops._validate(params(**override))


A, B = "http://img/a.qcow2", "http://img/b.qcow2"


@pytest.mark.parametrize(
    ("state", "image", "provisioned_image", "target", "want"),
    [
        ("provisioned", A, A, "provisioned", True),
        # the spec asks for a new image BMO has not acted on yet: still the old one
        ("provisioned", B, A, "provisioned", False),
        # the image was just removed: still provisioned, about to deprovision
        ("provisioned", "", A, "provisioned", False),
        ("provisioning", A, "", "provisioned", False),
        ("available", "", "", "available", True),
        # about to be provisioned
        ("available", A, "", "available", False),
        ("deprovisioning", "", A, "available", False),
        ("inspecting", "", "", "inspecting", True),
        ("ready", "", "", "available", False),
    ],
)
def test_reached_state_counts_only_settled_hosts(state, image, provisioned_image, target, want):
    h = {"state": state, "image": image, "provisioned_image": provisioned_image}
    assert host_ops.reached_state(h, target) is want


@pytest.mark.parametrize("state", ["provisioning", "provisioned", "deprovisioning"])
def test_busy_states_hold_an_image(state):
    assert state in host_ops.BUSY_STATES


@pytest.mark.parametrize("state", ["available", "ready", "registering", "inspecting", ""])
def test_free_states_are_not_busy(state):
    assert state not in host_ops.BUSY_STATES
