#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: go_binary
short_description: Build one binary from a Go wrapper module, cached by version
version_added: 0.1.0
description:
  - Runs C(go build) for O(package) inside O(src), a wrapper module of ours that holds only C(go.mod) and C(go.sum)
    pinning the upstream release, and writes the binary to O(dest).
  - A stamp file C(<dest>.stamp.json) records the wrapper digest, package, ldflags, tags, Go version, O(version) and
    the binary's digest. Nothing is compiled when they all match, so a second run reports C(changed=false).
  - The binary is written to a temporary file and renamed, so an interrupted build never leaves a half-written O(dest).
author: scalelab contributors
options:
  dest:
    description: Path of the binary to write. Its directory is created.
    type: path
    required: true
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
    description: Import path of the main package to build, for example C(k8s.io/kubernetes/cmd/kube-apiserver).
    type: str
    required: true
  src:
    description: Directory of the wrapper module (C(go.mod) and C(go.sum)) on the target host.
    type: path
    required: true
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
    description: Version of the upstream release being built; recorded in the stamp and returned.
    type: str
    required: true
notes:
  - Supports check mode (reports whether a build would run) and diff mode (the stamp before and after).
"""

EXAMPLES = r"""
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
build_seconds:
  description: Wall time of the compile; 0 when the cached binary was current.
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
  returned: success
  type: str
  sample: /root/.cache/scalelab/bin/etcd-v3.7.3/etcd
reason:
  description: Why a build ran (for example C(binary missing), C(ldflags changed)); null when none was needed.
  returned: success
  type: str
  sample: binary missing
sha256:
  description: Digest of the binary (null in check mode when it would be built).
  returned: success
  type: str
version:
  description: The O(version) that was built.
  returned: success
  type: str
  sample: v1.35.4
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils import gobuild

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    env=dict(type="dict", default={}),
    go=dict(type="str", default="go"),
    ldflags=dict(type="list", elements="str", default=[]),
    mod=dict(type="str", choices=["mod", "readonly"], default="readonly"),
    package=dict(type="str", required=True),
    src=dict(type="path", required=True),
    tags=dict(type="list", elements="str", default=[]),
    timeout=dict(type="int", default=1800),
    version=dict(type="str", required=True),
)


def ensure_built(module: AnsibleModule) -> dict:
    p = module.params
    env = dict(os.environ)
    env.setdefault("CGO_ENABLED", "0")
    env.update({k: str(v) for k, v in p["env"].items()})
    go_version = gobuild.go_env_version(p["go"], env)
    with open(os.path.join(p["src"], "go.mod")) as f:
        needed = gobuild.required_go(f.read())
    if gobuild.parse_go_version(go_version) < needed:
        raise gobuild.GoBuildError(
            f"go={p['go']} is {go_version}; src={p['src']} needs go{'.'.join(map(str, needed))} or newer"
        )
    desired = gobuild.desired_stamp(p["src"], p["package"], p["ldflags"], p["version"], go_version, p["tags"])
    current = gobuild.read_stamp(p["dest"])
    reason = gobuild.rebuild_reason(p["dest"], current, desired)
    result = {
        "changed": reason is not None,
        "path": p["dest"],
        "reason": reason,
        "version": p["version"],
        "go_version": go_version,
        "build_seconds": 0.0,
        "sha256": (current or {}).get("binary_sha256") if reason is None else None,
    }
    if module._diff:
        result["diff"] = {"before": current or {}, "after": desired}
    if reason is None or module.check_mode:
        return result
    seconds, digest = gobuild.build(
        p["src"], p["package"], p["dest"], p["ldflags"], p["tags"], env, p["go"], p["mod"], p["timeout"]
    )
    gobuild.write_stamp(p["dest"], dict(desired, binary_sha256=digest, build_seconds=round(seconds, 1)))
    result.update(build_seconds=round(seconds, 1), sha256=digest)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    try:
        module.exit_json(**ensure_built(module))
    except gobuild.GoBuildError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
