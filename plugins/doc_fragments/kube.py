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
      - Kubeconfig of the management cluster, or several separated by C(:) and merged as kubectl merges them (the
        first file naming a cluster, context or user wins; relative paths are relative to the file).
      - When not given, the environment variable C(K8S_AUTH_KUBECONFIG), then C(KUBECONFIG) (as
        kubernetes.core), then C(~/.kube/config).
      - Credentials as kubectl reads them - client certificates (files or inline data), C(token), C(tokenFile),
        C(username)/C(password), and C(exec) and C(auth-provider) plugins (EKS, GKE, AKS and other cloud
        clusters; through the C(kubernetes) Python library's loader, which is then needed). An C(exec) credential
        with an expiry is fetched again before it expires.
      - A play can give it once to every module of the action group C(scalelab.capi.kube), with
        C(module_defaults) for C(group/scalelab.capi.kube) setting O(kubeconfig) (and O(context)).
    type: path
    default: ~/.kube/config
"""
