#!/usr/bin/python
# Copyright: scalelab contributors
# Apache-2.0
from __future__ import annotations

DOCUMENTATION = r"""
---
module: provider_components
short_description: Install a provider's CRDs and webhooks for a manager that runs as a host process
version_added: 0.2.0
description:
  - Renders O(kustomize_dir) (a provider's C(config/default) in the Go module cache) with C(kubectl kustomize),
    keeps the CustomResourceDefinitions and the validating and mutating webhook configurations, and points every
    conversion and admission webhook at C(<webhook_url><path>) with O(ca_file) as C(caBundle), the way
    controller-runtime's envtest runs webhooks outside the cluster. Deployments, Services, RBAC and cert-manager
    objects are dropped.
  - Objects are written with server-side apply (field manager C(scalelab)); a second run changes nothing.
  - Waits until every CRD is Established.
author: scalelab contributors (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - scalelab.capi.attributes
  - scalelab.capi.kube
attributes:
  check_mode:
    support: full
    details: Server-side apply with C(dryRun=All); reports the objects that would change.
  diff_mode:
    support: none
options:
  ca_file:
    description:
      - PEM file of the CA that signed the manager's webhook serving certificate.
      - Required when the configuration has webhooks (conversion or admission).
    type: path
  kubectl:
    description: The kubectl executable used for C(kubectl kustomize).
    type: path
    default: kubectl
  kustomize_dir:
    description:
      - Kustomization directory to render.
      - For example C(<GOMODCACHE>/sigs.k8s.io/cluster-api@v1.14.2/core/config/default).
    type: path
    required: true
  timeout:
    description: Seconds to wait for the CRDs to be Established.
    type: float
    default: 60.0
  webhook_url:
    description:
      - Base URL of the manager's webhook server, for example C(https://127.0.0.1:9400).
      - Required when the configuration has webhooks (conversion or admission).
    type: str
requirements:
  - requests
  - PyYAML
"""

EXAMPLES = r"""
- name: Cluster API core CRDs and webhooks, served by the manager on 127.0.0.1:9400
  scalelab.capi.provider_components:
    kubeconfig: ~/.local/share/scalelab/scalelab/admin.kubeconfig
    kubectl: ~/.cache/scalelab/bin/kubectl-v1.35.4/kubectl
    kustomize_dir: ~/go/pkg/mod/sigs.k8s.io/cluster-api@v1.14.2/core/config/default
    webhook_url: https://127.0.0.1:9400
    ca_file: ~/.local/share/scalelab/scalelab/capi/pki/ca.crt
"""

RETURN = r"""
crds:
  description: Names of the CustomResourceDefinitions installed.
  type: list
  elements: str
  returned: always
webhook_configurations:
  description: Names of the webhook configurations installed.
  type: list
  elements: str
  returned: always
changed_objects:
  description: Objects created or changed by this run (kind/name).
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scalelab.capi.plugins.module_utils.kube import client as kube
from ansible_collections.scalelab.capi.plugins.module_utils.lab import components

ARGUMENT_SPEC = {
    **kube.KUBE_ARGUMENT_SPEC,
    "ca_file": {"type": "path"},
    "kubectl": {"type": "path", "default": "kubectl"},
    "kustomize_dir": {"type": "path", "required": True},
    "timeout": {"type": "float", "default": 60.0},
    "webhook_url": {"type": "str"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    kube.require_libs(module)
    p = module.params
    try:
        ca = None
        if p["ca_file"]:
            with open(p["ca_file"], "rb") as f:
                ca = f.read()
        docs = components.rewrite(components.render(p["kubectl"], p["kustomize_dir"]), p["webhook_url"], ca)
        with kube.KubeClient(p["kubeconfig"], p["context"]) as client:
            changed, result = components.ensure(client, docs, module.check_mode, p["timeout"])
    except OSError as e:
        module.fail_json(msg=f"ca_file={p['ca_file']} or the API at kubeconfig={p['kubeconfig']}: {e}")
    except (components.ComponentsError, kube.KubeError) as e:
        module.fail_json(msg=str(e))
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
