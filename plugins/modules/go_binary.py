#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: go_binary
short_description: Build binaries from Go wrapper modules, cached by version
version_added: 0.1.0
description:
  - Runs C(go build) for O(package) inside O(src), a wrapper module of ours that holds only C(go.mod) and C(go.sum)
    pinning the upstream release, and writes the binary to O(dest).
  - A stamp file C(<dest>.stamp.json) records the wrapper digest, package, ldflags, tags, Go version, O(version) and
    the binary's digest. Nothing is compiled when they all match, so a second run reports C(changed=false).
  - The binary is written to a temporary file and renamed, so an interrupted build never leaves a half-written O(dest).
  - O(binaries) checks or builds several binaries in one task (one toolchain probe, one module run), O(jobs) at a
    time; once a build fails no other starts (those running finish), and the first failed one in the order of
    O(binaries) is the task's error. Results are in that order.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
attributes:
  check_mode:
    support: full
    details: Reports whether a build would run.
  diff_mode:
    support: full
    details: The stamp before and after.
options:
  binaries:
    description:
      - Several binaries to build with the same O(go), O(env), O(mod) and O(timeout), instead of O(src), O(package),
        O(dest), O(version), O(ldflags) and O(tags).
    type: list
    elements: dict
    suboptions:
      name:
        description: Label of the binary in messages and results (default O(binaries[].dest)'s file name).
        type: str
      src:
        description: As O(src).
        type: path
        required: true
      package:
        description: As O(package).
        type: str
        required: true
      dest:
        description: As O(dest).
        type: path
        required: true
      version:
        description: As O(version).
        type: str
        required: true
      ldflags:
        description: As O(ldflags).
        type: list
        elements: str
        default: []
      tags:
        description: As O(tags).
        type: list
        elements: str
        default: []
  dest:
    description:
      - Path of the binary to write. Its directory is created.
      - Required unless O(binaries) is given.
    type: path
  env:
    description:
      - Extra environment for C(go), for example C(GOPROXY), C(GONOSUMDB), C(GOMODCACHE) or C(GOCACHE).
      - C(CGO_ENABLED) defaults to C(0) unless set here.
    type: dict
    default: {}
  go:
    description: The C(go) executable to use.
    type: str
    default: go
  jobs:
    description:
      - With O(binaries), how many builds run at a time. C(go build) compiles packages in parallel, but a warm build
        cache leaves mostly the link, which uses about one core; two links at a time keep two cores busy.
      - Each link of a large binary (kube-apiserver) takes ~1.5 GiB of memory.
    type: int
    default: 2
  ldflags:
    description: Linker flags, joined with spaces, for example C(-X k8s.io/component-base/version.gitVersion=v1.35.4).
    type: list
    elements: str
    default: []
  mod:
    description:
      - C(readonly) builds only from what C(go.sum) pins (the default, reproducible).
      - C(mod) lets C(go) resolve and record missing sums; use it once when adding a wrapper, then commit C(go.sum).
    type: str
    choices: [mod, readonly]
    default: readonly
  package:
    description:
      - Import path of the main package to build, for example C(k8s.io/kubernetes/cmd/kube-apiserver).
      - Required unless O(binaries) is given.
    type: str
  src:
    description:
      - Directory of the wrapper module (C(go.mod) and C(go.sum)) on the target host.
      - Required unless O(binaries) is given.
    type: path
  tags:
    description: Go build tags.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds the build may take before it is stopped and the task fails.
    type: int
    default: 1800
  version:
    description:
      - Version of the upstream release being built; recorded in the stamp and returned.
      - Required unless O(binaries) is given.
    type: str
"""

EXAMPLES = r"""
- name: Check or build etcd and kube-apiserver in one task, one link at a time (a host with little memory)
  scalelab.capi.go_binary:
    jobs: 1
    binaries:
      - src: /var/cache/scalelab/wrappers/etcd-v3.7.3
        package: go.etcd.io/etcd/server/v3
        dest: /var/cache/scalelab/bin/etcd-v3.7.3/etcd
        version: v3.7.3
      - src: /var/cache/scalelab/wrappers/kubernetes-v1.35.4
        package: k8s.io/kubernetes/cmd/kube-apiserver
        dest: /var/cache/scalelab/bin/kube-apiserver-v1.35.4/kube-apiserver
        version: v1.35.4
        ldflags: [-X k8s.io/component-base/version.gitVersion=v1.35.4]

- name: Build kube-apiserver v1.35.4 from the kubernetes wrapper
  scalelab.capi.go_binary:
    src: /var/cache/scalelab/wrappers/kubernetes-v1.35.4
    package: k8s.io/kubernetes/cmd/kube-apiserver
    dest: /var/cache/scalelab/bin/kube-apiserver-v1.35.4/kube-apiserver
    version: v1.35.4
    ldflags:
      - -s -w
      - -X k8s.io/component-base/version.gitVersion=v1.35.4

- name: Build etcd with a module the checksum database does not know
  scalelab.capi.go_binary:
    src: /var/cache/scalelab/wrappers/etcd-v3.7.3
    package: go.etcd.io/etcd/server/v3
    dest: /var/cache/scalelab/bin/etcd-v3.7.3/etcd
    version: v3.7.3
    env:
      GONOSUMDB: example.com/private
"""

RETURN = r"""
binaries:
  description: With O(binaries), one result per binary in order (name, path, reason, version, build_seconds, sha256).
  returned: when O(binaries) is given
  type: list
  elements: dict
build_seconds:
  description: Wall time of the compile(s); 0 when the cached binaries were current.
  returned: success
  type: float
  sample: 212.4
go_version:
  description: Version of the toolchain that was (or would be) used.
  returned: success
  type: str
  sample: go1.26.8
path:
  description: Path of the binary.
  returned: without O(binaries)
  type: str
  sample: /root/.cache/scalelab/bin/etcd-v3.7.3/etcd
reason:
  description: Why a build ran (for example C(binary missing), C(ldflags changed)); null when none was needed.
  returned: without O(binaries)
  type: str
  sample: binary missing
sha256:
  description: Digest of the binary (null in check mode when it would be built).
  returned: without O(binaries)
  type: str
version:
  description: The O(version) that was built.
  returned: without O(binaries)
  type: str
  sample: v1.35.4
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils.lab import gobuild

_ONE = ("dest", "package", "src", "version")
ARGUMENT_SPEC = dict(
    binaries=dict(
        type="list",
        elements="dict",
        options=dict(
            name=dict(type="str"),
            src=dict(type="path", required=True),
            package=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            version=dict(type="str", required=True),
            ldflags=dict(type="list", elements="str", default=[]),
            tags=dict(type="list", elements="str", default=[]),
        ),
    ),
    dest=dict(type="path"),
    env=dict(type="dict", default={}),
    go=dict(type="str", default="go"),
    jobs=dict(type="int", default=2),
    ldflags=dict(type="list", elements="str", default=[]),
    mod=dict(type="str", choices=["mod", "readonly"], default="readonly"),
    package=dict(type="str"),
    src=dict(type="path"),
    tags=dict(type="list", elements="str", default=[]),
    timeout=dict(type="int", default=1800),
    version=dict(type="str"),
)


def ensure_built(b: dict, go: str, go_version: str, env: dict, mod: str, timeout: int, check: bool) -> dict:
    """Check one binary's stamp and build it when stale: its result, with the stamps before/after for diff."""
    go_mod = os.path.join(b["src"], "go.mod")
    if not os.path.isfile(go_mod):
        raise gobuild.GoBuildError(f"src={b['src']}: go.mod is missing (a wrapper module is go.mod + go.sum)")
    with open(go_mod) as f:
        needed = gobuild.required_go(f.read())
    if gobuild.parse_go_version(go_version) < needed:
        raise gobuild.GoBuildError(
            f"go={go} is {go_version}; src={b['src']} needs go{'.'.join(map(str, needed))} or newer"
        )
    desired = gobuild.desired_stamp(b["src"], b["package"], b["ldflags"], b["version"], go_version, b["tags"])
    current = gobuild.read_stamp(b["dest"])
    reason = gobuild.rebuild_reason(b["dest"], current, desired)
    result = {
        "changed": reason is not None,
        "name": b.get("name") or os.path.basename(b["dest"]),
        "path": b["dest"],
        "reason": reason,
        "version": b["version"],
        "build_seconds": 0.0,
        "sha256": (current or {}).get("binary_sha256") if reason is None else None,
        "diff": {"before": current or {}, "after": desired},
    }
    if check:
        return result
    if reason is None:
        if gobuild.stat_stale(b["dest"], current):  # bookkeeping only: the next run needs no hash
            gobuild.write_stamp(b["dest"], dict(current, binary_stat=gobuild.binary_stat(b["dest"])))
        return result
    seconds, digest = gobuild.build(b["src"], b["package"], b["dest"], b["ldflags"], b["tags"], env, go, mod, timeout)
    stamp = dict(desired, binary_sha256=digest, build_seconds=round(seconds, 1))
    gobuild.write_stamp(b["dest"], dict(stamp, binary_stat=gobuild.binary_stat(b["dest"])))
    result.update(build_seconds=round(seconds, 1), sha256=digest)
    return result


def build_all(binaries: list[dict], jobs: int, args: tuple) -> list[dict]:
    """ensure_built for each, `jobs` at a time; after a failure none starts, and the first failed one raises."""
    failed = threading.Event()

    def one(b: dict) -> dict | None:
        if failed.is_set():
            return None
        try:
            return ensure_built(b, *args)
        except gobuild.GoBuildError:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, b) for b in binaries]
    return [f.result() for f in futures]  # in order: the first failed one raises here


def run(module: AnsibleModule) -> dict:
    p = module.params
    env = dict(os.environ)
    env.setdefault("CGO_ENABLED", "0")
    env.update({k: str(v) for k, v in p["env"].items()})
    go_version = gobuild.go_env_version(p["go"], env)
    args = (p["go"], go_version, env, p["mod"], p["timeout"], module.check_mode)
    if p["binaries"] is None:
        one = ensure_built({k: p[k] for k in (*_ONE, "ldflags", "tags")}, *args)
        diff = one.pop("diff")
        one.pop("name")
        one["go_version"] = go_version
        return dict(one, diff=diff) if module._diff else one
    if p["jobs"] < 1:
        raise gobuild.GoBuildError(f"jobs={p['jobs']} must be >= 1")
    done = build_all(p["binaries"], p["jobs"], args)
    result = {
        "changed": any(r["changed"] for r in done),
        "go_version": go_version,
        "build_seconds": round(sum(r["build_seconds"] for r in done), 1),
        "binaries": [{k: v for k, v in r.items() if k != "diff"} for r in done],
    }
    if module._diff:
        result["diff"] = {
            "before": {r["path"]: r["diff"]["before"] for r in done},
            "after": {r["path"]: r["diff"]["after"] for r in done},
        }
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("binaries", k) for k in _ONE],
        required_one_of=[("binaries", "dest")],
        required_by={k: tuple(x for x in _ONE if x != k) for k in _ONE},
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except gobuild.GoBuildError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
