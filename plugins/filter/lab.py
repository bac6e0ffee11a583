# Copyright: scalelab contributors
# Apache-2.0
"""The lab's layout, defined once for every role and playbook: where a lab lives, the files of its supervisord,
the managers' readiness URLs, what may name an entry of its directory and the digest of a role's files that the
converge stamps keep (documented in the <filter>.yml files beside this one)."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.scalelab.capi.plugins.module_utils.lab.audit import not_entry_names

# The role every process-running role shares; its files are part of each of their stamps.
SHARED_ROLE = "supervisor"


def lab_dir(home: str, name: str = "scalelab") -> str:
    return f"{home}/.local/share/scalelab/{name}"


def lab_supervisor(lab: str) -> dict:
    """The supervisord of a lab directory: its client, configuration, program files and logs."""
    return {
        "dir": lab,
        "ctl": f"{lab}/venv/bin/supervisorctl",
        "conf": f"{lab}/supervisor/supervisord.conf",
        "programs_dir": f"{lab}/supervisor/conf.d",
        "logs_dir": f"{lab}/logs",
    }


def readyz(names: list, host: str, port_base) -> list[dict]:
    """Each manager's health probe: port base + 10 * index + 1 (host already wrapped if IPv6)."""
    return [{"name": n, "url": f"http://{host}:{int(port_base) + 10 * i + 1}/readyz"} for i, n in enumerate(names)]


def role_digest(role_path: str) -> str:
    """sha256 of the names and contents of a role's files and the shared role's (no *.pyc), in a fixed order."""
    roles = os.path.dirname(role_path)
    h = hashlib.sha256()
    for role in dict.fromkeys((os.path.basename(role_path), SHARED_ROLE)):
        for root, dirs, files in os.walk(os.path.join(roles, role)):
            dirs.sort()
            for name in sorted(f for f in files if not f.endswith(".pyc")):
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    h.update(f"{os.path.relpath(path, roles)}\0".encode() + hashlib.sha256(f.read()).digest())
    return h.hexdigest()


class FilterModule:
    def filters(self):
        return {
            "lab_dir": lab_dir,
            "lab_supervisor": lab_supervisor,
            "not_entry_names": not_entry_names,
            "readyz": readyz,
            "role_digest": role_digest,
        }
