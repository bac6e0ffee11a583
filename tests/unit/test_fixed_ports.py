"""Every fixed port a lab, a test or a hack script listens on lies below the kernel's ephemeral range and clear of
the in-memory provider's fixed ports.

A listener on a port of the ephemeral range races every outgoing connection on the machine: a CI run died because
MariaDB's fixed port (then 46306) was some client's local port at that moment ("Address already in use"). Upstream's
in-memory provider serves its workload clusters on 19000 and 20000 up on every address (capi_stack's preflight
refuses manager ports in 19000 and 20000-30000).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "hack/openstack-aio/common.sh",
    "hack/openstack-aio/register.py",
    "molecule/*/molecule.yml",
    "molecule/*/tests/*.py",
    "tests/integration/*.py",
    "tests/quickstart/*.py",
    "inventories/*/group_vars/all/*.yml",
    "roles/*/defaults/main.yml",
]
# name: value (yaml), "name": value (python dicts), P_NAME=value (shell), host:port in URLs and assertions
SETTING = re.compile(r"""(?P<name>\w*port\w*|P_[A-Z]+)["']?\s*[:=]\s*["']?(?P<value>\d{4,5})\b""", re.IGNORECASE)
ADDRESS = re.compile(r"127\.0\.0\.\d+:(?P<value>\d{4,5})\b")
IN_MEMORY = [(19000, 19000), (20000, 29999)]
SPAN = 99  # a *_port_base numbers up to this many ports after it (Cluster API managers use base..base+39)


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except OSError:
        return 32768, 60999  # Linux's default


def fixed_ports():
    for pattern in SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                for m in SETTING.finditer(line):
                    first = int(m["value"])
                    last = first + SPAN if m["name"].lower().endswith("port_base") else first
                    yield f"{path.relative_to(ROOT)}:{lineno}", first, last
                for m in ADDRESS.finditer(line):
                    yield f"{path.relative_to(ROOT)}:{lineno}", int(m["value"]), int(m["value"])


def test_the_scan_finds_the_ports_it_guards():
    where = {w.split(":")[0] for w, _dummy, _dummy in fixed_ports()}
    assert {"hack/openstack-aio/common.sh", "molecule/metal3/molecule.yml", "tests/integration/conftest.py"} <= where


@pytest.mark.parametrize("where,first,last", list(fixed_ports()))
def test_fixed_port_is_below_the_ephemeral_range(where, first, last):
    low, high = ephemeral_range()
    assert not (first <= high and last >= low), f"{where}: port {first}-{last} overlaps ephemeral {low}-{high}"


@pytest.mark.parametrize("where,first,last", list(fixed_ports()))
def test_fixed_port_is_clear_of_the_in_memory_providers_ports(where, first, last):
    for low, high in IN_MEMORY:
        assert not (first <= high and last >= low), f"{where}: port {first}-{last} overlaps in-memory {low}-{high}"
