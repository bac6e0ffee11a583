#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: stamp
short_description: Tell whether a role's inputs and the files it wrote are as its last converge left them
version_added: 0.8.0
description:
  - A role converges, then records with O(state=present) a digest of its inputs and the size, mode and modification
    time of the files it wrote (O(watch)). On the next run, O(state=query) says whether both are unchanged
    (RV(fresh)), so the role can skip the subtree that would only confirm what is already there.
  - Anything else makes the stamp stale and the role converges in full - no stamp yet, other inputs, a watched file
    missing, added or touched, or (O(running)) a program of the role's that supervisord does not report RUNNING.
  - The stamp is bookkeeping, not a change of the lab - a role writes it with C(changed_when=false).
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: With O(state=present), the stamp before and after.
options:
  data:
    description:
      - What the converge found that a later run needs without redoing the work that found it (for example the
        flags each manager accepts). Recorded with O(state=present); returned by both states as RV(data).
    type: raw
  digest:
    description:
      - Digest of everything the role's result depends on, for example the C(hash('sha256')) of its options and
        rendered programs as JSON.
    type: str
    required: true
  path:
    description: The stamp file on the managed host (JSON, written 0600; O(state=present) needs its directory).
    type: path
    required: true
  running:
    description:
      - Supervisor programs the role runs. With O(state=query), a stamp whose inputs and files are current is fresh
        only when C(supervisorctl status) reports every one of them RUNNING (one call; skipped when already stale).
    type: dict
    suboptions:
      ctl:
        description: The C(supervisorctl) executable.
        type: path
        required: true
      conf:
        description: The supervisord configuration file C(supervisorctl) talks through.
        type: path
        required: true
      programs:
        description: Program names as supervisord knows them.
        type: list
        elements: str
        required: true
  state:
    description:
      - C(query) reads the stamp and compares; never changes anything.
      - C(present) records the current digest and watched files.
    type: str
    choices: [query, present]
    default: query
  watch:
    description:
      - Files the role wrote, as paths or shell globs on the managed host; every match's size, mode and
        modification time are part of the stamp. C(~) and environment variables are expanded.
      - A glob that matches nothing is recorded as such, so a file appearing later makes the stamp stale too.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Ask whether the management cluster is as the last converge left it
  scalelab.capi.stamp:
    path: /root/.local/share/scalelab/scalelab/.converged-management-cluster
    digest: "{{ {'options': _inputs, 'role': _role_files_digest} | to_json | hash('sha256') }}"
    watch:
      - /root/.local/share/scalelab/scalelab/pki/*
      - /root/.local/share/scalelab/scalelab/*.kubeconfig
    running:
      ctl: /root/.local/share/scalelab/scalelab/venv/bin/supervisorctl
      conf: /root/.local/share/scalelab/scalelab/supervisor/supervisord.conf
      programs: [etcd, kube-apiserver, kube-controller-manager]
  register: _stamp

- name: Converge in full only when something differs
  ansible.builtin.include_tasks: install.yml
  when: not _stamp.fresh

- name: Record what this converge left
  scalelab.capi.stamp:
    path: /root/.local/share/scalelab/scalelab/.converged-management-cluster
    digest: "{{ {'options': _inputs, 'role': _role_files_digest} | to_json | hash('sha256') }}"
    watch:
      - /root/.local/share/scalelab/scalelab/pki/*
      - /root/.local/share/scalelab/scalelab/*.kubeconfig
    state: present
  changed_when: false
  when: not _stamp.fresh
"""

RETURN = r"""
fresh:
  description: The stamp exists, its digest equals O(digest) and every watched file is as recorded.
  returned: always
  type: bool
  sample: true
reason:
  description:
    - Why the stamp is stale, for example C(no stamp), C(inputs changed), C(<path> changed), C(<path> missing) or
      C(<path> new); null when fresh.
  returned: always
  type: str
  sample: inputs changed
files:
  description: Number of watched files found.
  returned: always
  type: int
  sample: 24
inputs_only:
  description:
    - The stamp is stale only because of O(digest) - every watched file is as recorded and (with O(running), on a
      query) every program runs - so a role can redo just what the changed inputs feed (capi_stack rewrites and
      restarts its managers for changed flags without re-applying its PKI, CRDs and ClusterClass).
  returned: always
  type: bool
data:
  description: The O(data) of the stamp (as recorded; with O(state=present), as recorded now); null when none.
  returned: always
  type: raw
  sample: {managers: [{name: core, flags: {cluster-concurrency: 10}}]}
"""

import glob
import json
import os
import subprocess

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    data=dict(type="raw"),
    digest=dict(type="str", required=True),
    path=dict(type="path", required=True),
    running=dict(
        type="dict",
        options=dict(
            ctl=dict(type="path", required=True),
            conf=dict(type="path", required=True),
            programs=dict(type="list", elements="str", required=True),
        ),
    ),
    state=dict(type="str", choices=["query", "present"], default="query"),
    watch=dict(type="list", elements="path", default=[]),
)


def fingerprint(patterns: list[str]) -> dict:
    """{path: [size, mode, mtime_ns]} of every file the patterns match; a pattern matching nothing maps to None."""
    files: dict = {}
    for pattern in patterns:
        matches = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        if not matches:
            files[pattern] = None
        for path in matches:
            st = os.stat(path)
            files[path] = [st.st_size, st.st_mode, st.st_mtime_ns]
    return files


def read(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stale_reason(recorded: dict | None, desired: dict) -> str | None:
    if recorded is None:
        return "no stamp"
    if recorded.get("digest") != desired["digest"]:
        return "inputs changed"
    before, now = recorded.get("files", {}), desired["files"]
    for path in sorted(set(before) | set(now)):
        if before.get(path) != now.get(path):
            return f"{path} {'missing' if now.get(path) is None else 'new' if before.get(path) is None else 'changed'}"
    return None


def not_running(ctl: str, conf: str, programs: list[str]) -> str | None:
    """Why the programs are not all RUNNING (the first one that is not), or None."""
    try:
        # exits non-zero when a program is not running: the lines say which
        out = subprocess.run(
            [ctl, "-c", conf, "status", *programs], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"supervisorctl: {e}"
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            states[parts[0]] = parts[1] if parts[1].isupper() else line.split(None, 1)[1].strip()
    for name in programs:
        state = states.get(name)
        if state != "RUNNING":
            said = state or (out.stdout.strip() or out.stderr.strip() or "no answer").splitlines()[0]
            return f"program {name} is not running ({said})"
    return None


def run(module: AnsibleModule) -> dict:
    p = module.params
    desired = {"digest": p["digest"], "files": fingerprint(p["watch"])}
    if p["data"] is not None:
        desired["data"] = p["data"]
    recorded = read(p["path"])
    reason = stale_reason(recorded, desired)
    files_same = recorded is not None and recorded.get("files", {}) == desired["files"]
    stopped = None
    if p["state"] == "query" and p["running"] and files_same:
        stopped = not_running(p["running"]["ctl"], p["running"]["conf"], p["running"]["programs"])
    reason = reason or stopped
    result = {
        "changed": False,
        "fresh": reason is None,
        "reason": reason,
        "inputs_only": reason == "inputs changed" and files_same and stopped is None,
        "files": sum(1 for v in desired["files"].values() if v),
        "data": (recorded or {}).get("data"),
    }
    if p["state"] == "present" and recorded != desired:
        result["changed"] = True
        if module._diff:
            result["diff"] = {"before": recorded or {}, "after": desired}
        if not module.check_mode:
            tmp = p["path"] + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(desired, f, indent=1, sort_keys=True)
            os.replace(tmp, p["path"])
            result.update(fresh=True, reason=None, data=desired.get("data"))
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    parent = os.path.dirname(module.params["path"]) or "."
    # a query before the role made its directory finds no stamp; only writing needs it
    if module.params["state"] == "present" and not os.path.isdir(parent):
        module.fail_json(msg=f"path={module.params['path']}: its directory {parent} does not exist")
    try:
        module.exit_json(**run(module))
    except OSError as e:
        module.fail_json(msg=f"path={module.params['path']}: {e}")


if __name__ == "__main__":
    main()
