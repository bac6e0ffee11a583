#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: supervisor_apply
short_description: Apply a lab's supervisor program files - every stop and restart at once
version_added: 0.8.0
description:
  - What C(supervisorctl update) does, with the stops in parallel. supervisord re-reads its program files; programs
    whose file is gone are stopped and removed, programs whose file changed are stopped and started again with it,
    new programs are added (and started, with C(autostart)). Programs whose file did not change are left alone.
  - C(supervisorctl update) stops one program at a time (about a second each, longer for a slow one); this module
    asks supervisord to stop every affected program at once and waits for all of them together.
  - Runs the Python of the lab's virtualenv (beside O(ctl)), which has supervisor's client library; the managed
    host's own Python needs nothing.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
attributes:
  check_mode:
    support: full
    details: supervisord re-reads the files and the module reports what it would apply; nothing is stopped or started.
  diff_mode:
    support: full
    details: The programs added, changed and removed.
options:
  conf:
    description: The supervisord configuration file (its C([supervisorctl]) section names the socket).
    type: path
    required: true
  ctl:
    description: The lab's C(supervisorctl); the C(python) beside it runs the client.
    type: path
    required: true
  missing_ok:
    description:
      - When supervisord does not run (or its virtualenv, O(ctl)'s directory, is gone), report nothing changed
        instead of failing (a removal on a lab whose supervisord is already gone).
    type: bool
    default: false
  restart:
    description:
      - Programs to restart whatever their files say (a handler's restart after a certificate or kubeconfig
        changed). They are stopped at once with those the files change, then started one after the other in the
        order given (each once supervisord sees it running, its C(startsecs)), so a later one finds the earlier up.
      - A name supervisord does not know is refused before anything is stopped.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for the stopped programs to exit (supervisord kills one after its C(stopwaitsecs)).
    type: int
    default: 90
notes:
  - Idempotent - a second run finds every file as supervisord runs it and changes nothing.
"""

EXAMPLES = r"""
- name: Apply the Cluster API programs (restarts only the managers whose program file changed)
  scalelab.capi.supervisor_apply:
    ctl: /root/.local/share/scalelab/scalelab/venv/bin/supervisorctl
    conf: /root/.local/share/scalelab/scalelab/supervisor/supervisord.conf

- name: Restart the management cluster's programs (a handler) - stopped at once, started in this order
  scalelab.capi.supervisor_apply:
    ctl: /root/.local/share/scalelab/scalelab/venv/bin/supervisorctl
    conf: /root/.local/share/scalelab/scalelab/supervisor/supervisord.conf
    restart: [etcd, kube-apiserver, kube-controller-manager]

- name: Stop the programs whose files a removal deleted (nothing to do when supervisord is gone)
  scalelab.capi.supervisor_apply:
    ctl: /root/.local/share/scalelab/scalelab/venv/bin/supervisorctl
    conf: /root/.local/share/scalelab/scalelab/supervisor/supervisord.conf
    missing_ok: true
"""

RETURN = r"""
running:
  description: Whether supervisord answered.
  returned: always
  type: bool
added:
  description: Programs added (and started when C(autostart)).
  returned: always
  type: list
  elements: str
restarted:
  description: The programs of O(restart), restarted (in check mode, to be restarted).
  returned: always
  type: list
  elements: str
changed_programs:
  description: Programs restarted with their new program file.
  returned: always
  type: list
  elements: str
removed:
  description: Programs stopped and removed.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = {
    "conf": {"type": "path", "required": True},
    "ctl": {"type": "path", "required": True},
    "missing_ok": {"type": "bool", "default": False},
    "restart": {"type": "list", "elements": "str", "default": []},
    "timeout": {"type": "int", "default": 90},
}

# Runs in the lab's virtualenv: argv conf, apply (0/1), timeout, restart (a JSON list). Prints one JSON line.
CLIENT = r"""
import json, socket, sys, time
from supervisor.options import ClientOptions
from supervisor.xmlrpc import Faults
import xmlrpc.client

conf, apply, timeout, restart = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3]), json.loads(sys.argv[4])
opts = ClientOptions()
opts.realize(["-c", conf], doc="")
rpc = opts.getServerProxy().supervisor
try:
    [[added, changed, removed]] = rpc.reloadConfig()
except (OSError, socket.error, xmlrpc.client.ProtocolError) as e:
    print(json.dumps({"running": False, "error": str(e)}))
    raise SystemExit(0)
out = {"running": True, "added": sorted(added), "changed": sorted(changed), "removed": sorted(removed)}
known = {p["group"] for p in rpc.getAllProcessInfo()} | set(added)
unknown = [g for g in restart if g not in known or g in removed]
if unknown:
    print(json.dumps(dict(out, unknown=unknown)))
    raise SystemExit(0)
out["restarted"] = restart
if apply:
    going = set(changed) | set(removed) | set(restart)
    for group in going:
        try:
            rpc.stopProcessGroup(group, False)
        except xmlrpc.client.Fault as e:
            if e.faultCode != Faults.BAD_NAME:
                raise
    deadline = time.monotonic() + timeout
    while True:
        left = [p["group"] + ":" + p["name"] for p in rpc.getAllProcessInfo()
                if p["group"] in going and p["statename"] in ("STARTING", "RUNNING", "STOPPING", "BACKOFF")]
        if not left:
            break
        if time.monotonic() > deadline:
            print(json.dumps(dict(out, error="still running after %ss: %s" % (timeout, ", ".join(left)))))
            raise SystemExit(0)
        time.sleep(0.1)
    for group in set(changed) | set(removed):
        rpc.removeProcessGroup(group)
    for group in sorted(set(added) | set(changed)):
        rpc.addProcessGroup(group)
    for group in restart:
        if group not in added and group not in changed:  # those started when added again
            rpc.startProcessGroup(group, True)
print(json.dumps(out))
"""


def apply(module: AnsibleModule) -> dict:
    p = module.params
    python = os.path.join(os.path.dirname(p["ctl"]), "python")
    gone = {"changed": False, "running": False, "added": [], "changed_programs": [], "removed": [], "restarted": []}
    if not os.access(python, os.X_OK):
        if p["missing_ok"] and not os.path.exists(p["ctl"]):
            return gone  # the lab's virtualenv is gone with its supervisord
        module.fail_json(msg=f"ctl={p['ctl']}: no executable python beside it (the lab's virtualenv)")
    if not os.path.isfile(p["conf"]):
        if p["missing_ok"]:
            return gone
        module.fail_json(msg=f"conf={p['conf']}: no such file")
    argv = [
        python,
        "-c",
        CLIENT,
        p["conf"],
        "0" if module.check_mode else "1",
        str(p["timeout"]),
        json.dumps(p["restart"]),
    ]
    rc, stdout, stderr = module.run_command(argv)
    try:
        res = json.loads(stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        module.fail_json(msg=f"conf={p['conf']}: supervisord's client failed (rc={rc}): {stderr.strip()[-2000:]}")
    if not res["running"]:
        if p["missing_ok"]:
            return gone
        module.fail_json(msg=f"conf={p['conf']}: supervisord does not answer: {res['error']}")
    if res.get("unknown"):
        module.fail_json(msg=f"restart={res['unknown']}: not a program of conf={p['conf']}; nothing was restarted")
    if res.get("error"):
        module.fail_json(msg=f"conf={p['conf']}: {res['error']}", **res)
    changed = bool(res["added"] or res["changed"] or res["removed"] or p["restart"])
    before = sorted(set(res["changed"]) | set(res["removed"]))
    after = sorted(set(res["changed"]) | set(res["added"]))
    return {
        "changed": changed,
        "running": True,
        "added": res["added"],
        "changed_programs": res["changed"],
        "removed": res["removed"],
        "restarted": res.get("restarted", []),
        "diff": {"before": "".join(f"{g}\n" for g in before), "after": "".join(f"{g}\n" for g in after)},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["timeout"] <= 0:
        module.fail_json(msg=f"timeout={module.params['timeout']} must be > 0")
    module.exit_json(**apply(module))


if __name__ == "__main__":
    main()
