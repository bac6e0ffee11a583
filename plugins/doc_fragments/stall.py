# Copyright: scalelab contributors
# Apache-2.0
"""The stall option of the wait modules that wait for a set to be there (cluster_wait, bmh_wait)."""

from __future__ import annotations


class ModuleDocFragment:
    # cluster_wait, bmh_wait: extends_documentation_fragment: [scalelab.capi.stall] (plugin_utils.windows.stall_check).
    DOCUMENTATION = r"""
options:
  stall_timeout:
    description:
      - Seconds with fewer than O(count) objects in the set and none added, after which the wait fails (nothing is
        creating the rest). Raise it when another process creates the set slowly (a paced run); at least O(timeout)
        never fails early.
    type: float
    default: 60.0
"""
