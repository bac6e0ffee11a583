# Copyright: scalelab contributors
# Apache-2.0
"""The options of KUBE_ARGUMENT_SPEC (plugins/module_utils/kube/client.py), documented once."""

from __future__ import annotations


class ModuleDocFragment:
    # Every module that talks to the management cluster: extends_documentation_fragment: [scalelab.capi.kube].
    # Keep in step with kube.client.KUBE_ARGUMENT_SPEC (tests/unit/plugins/modules/test_docs.py compares them).
    DOCUMENTATION = r"""
options:
  context:
    description: Context of O(kubeconfig); empty uses its current context.
    type: str
    default: ""
  kubeconfig:
    description:
      - Kubeconfig of the management cluster.
      - A play can give it once to every module of the action group C(scalelab.capi.kube), with
        C(module_defaults) for C(group/scalelab.capi.kube) setting O(kubeconfig) (and O(context)).
    type: path
    required: true
"""
