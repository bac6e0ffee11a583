# Copyright: scalelab contributors
# Apache-2.0
"""A set of N BareMetalHosts and their BMC credential Secrets, with no hardware behind them.

Each host i gets a boot MAC address and a BMC address derived from i alone, so a re-run renders the same
objects (idempotent, resumable) and no two hosts of a set collide. The objects carry the set labels of
clusterset, so the bulk engine finds what exists with one paginated list per kind.
"""

from __future__ import annotations

import base64
import ipaddress

from ansible_collections.scalelab.capi.plugins.module_utils.sets.clusters import (
    INDEX_LABEL,
    SET_LABEL,
    Member,
    SetError,
    members,
)

BMH_API = "metal3.io/v1alpha1"
BMH_KIND = "BareMetalHost"
# BMO labels every BMC Secret it uses with this; setting it up front spares BMO one update per host.
SECRET_ENV_LABEL = "environment.metal3.io"
SECRET_ENV_VALUE = "baremetal"
MAX_INDEX_MAC = 0xFFFFFF
__all__ = ["HostRenderer", "Member", "SetError", "members", "mac_address"]


def mac_address(prefix: str, index: int) -> str:
    """prefix (3 octets, e.g. 02:5c:a1) + the index in the 3 low octets: unique for 16,777,215 hosts."""
    octets = prefix.lower().split(":")
    if len(octets) != 3 or not all(len(o) == 2 and all(c in "0123456789abcdef" for c in o) for o in octets):
        raise SetError(f"mac_prefix={prefix!r} must be three hex octets like '02:5c:a1'")
    if int(octets[0], 16) & 1:
        raise SetError(f"mac_prefix={prefix!r} is a multicast prefix (lowest bit of the first octet set)")
    if not 0 < index <= MAX_INDEX_MAC:
        raise SetError(f"count: index {index} does not fit the 3 free octets of mac_prefix (max {MAX_INDEX_MAC})")
    low = f"{index:06x}"
    return ":".join([*octets, low[0:2], low[2:4], low[4:6]])


class HostRenderer:
    """The Secret and the BareMetalHost of each member; every input checked once, before any write."""

    def __init__(self, p: dict):
        self.set_name = p["name"]
        self.labels = dict(p["labels"])
        self.online = p["online"]
        self.host_spec = dict(p["host_spec"] or {})
        self.mac_prefix = p["mac_prefix"]
        self.pattern = p["bmc_address_pattern"]
        self.username = p["bmc_username"]
        self.password = p["bmc_password"]
        for opt in ("bmc_username", "bmc_password"):
            if not (p[opt] or "").strip():
                raise SetError(f"{opt} is empty: the BMC credential Secret BMO reads needs one")
        try:
            self.network = ipaddress.ip_network(p["bmc_network"], strict=False)
        except ValueError as e:
            raise SetError(f"bmc_network={p['bmc_network']!r}: {e}") from e
        for forbidden in ("bmc", "bootMACAddress", "online", "image"):
            if forbidden in self.host_spec:
                raise SetError(
                    f"host_spec.{forbidden}: set by bmh_bulk itself (use bmc_*, mac_prefix, online, image/provisioned)"
                )

    def check(self, set_members: list[Member]) -> None:
        """Fail naming the option when two hosts would share a BMC address or the network is too small."""
        if not set_members:
            return
        last = set_members[-1].index
        if last >= self.network.num_addresses - 1:
            raise SetError(
                f"bmc_network={self.network} has {self.network.num_addresses - 2} host addresses; "
                f"count={last} needs more"
            )
        mac_address(self.mac_prefix, last)
        seen: dict[str, int] = {}
        for m in set_members:
            addr = self.bmc_address(m)
            if addr in seen:
                raise SetError(
                    f"bmc_address_pattern={self.pattern!r} gives {addr!r} for index {seen[addr]} and {m.index}: "
                    "BMC addresses must be unique (use {ip} or {index})"
                )
            seen[addr] = m.index

    def bmc_address(self, m: Member) -> str:
        try:
            return self.pattern.format(ip=self.network.network_address + m.index, index=m.index, name=m.name)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
            raise SetError(
                f"bmc_address_pattern={self.pattern!r}: {e!r}; use the fields {{ip}}, {{index}} and {{name}}, "
                "e.g. 'ipmi://{ip}:623'"
            ) from e

    def _labels(self, m: Member) -> dict:
        return {**self.labels, SET_LABEL: self.set_name, INDEX_LABEL: str(m.index)}

    @staticmethod
    def secret_name(m: Member) -> str:
        return f"{m.name}-bmc-secret"

    def secret(self, m: Member) -> dict:
        def b64(s: str) -> str:
            return base64.b64encode(s.encode()).decode()

        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.secret_name(m),
                "namespace": m.namespace,
                "labels": {**self._labels(m), SECRET_ENV_LABEL: SECRET_ENV_VALUE},
            },
            "type": "Opaque",
            "data": {"username": b64(self.username), "password": b64(self.password)},
        }

    def host(self, m: Member, image: dict | None = None) -> dict:
        spec = {
            **self.host_spec,
            "bmc": {"address": self.bmc_address(m), "credentialsName": self.secret_name(m)},
            "bootMACAddress": mac_address(self.mac_prefix, m.index),
            "online": self.online,
        }
        if image:
            spec["image"] = image
        return {
            "apiVersion": BMH_API,
            "kind": BMH_KIND,
            "metadata": {"name": m.name, "namespace": m.namespace, "labels": self._labels(m)},
            "spec": spec,
        }


def image_spec(image: dict | None) -> dict | None:
    """The BareMetalHost spec.image of the image option (None when unset)."""
    if not image:
        return None
    out = {"url": image["url"]}
    if image.get("checksum"):
        out["checksum"] = image["checksum"]
        out["checksumType"] = image.get("checksum_type") or "auto"
    if image.get("disk_format"):
        out["format"] = image["disk_format"]
    return out


def host_members(p: dict) -> list[Member]:
    return members(p["name"], p["count"], p["name_pattern"], p["namespace"], False)
