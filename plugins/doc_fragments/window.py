# Copyright: scalelab contributors
# Apache-2.0
"""The options of a run's window (WINDOW_ARGUMENT_SPEC in plugins/module_utils/observe/prometheus.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # prometheus_snapshot, profile_top: extends_documentation_fragment: [scalelab.capi.window]. Keep in step with
    # observe.prometheus.WINDOW_ARGUMENT_SPEC (tests/unit/plugins/modules/test_docs.py compares them).
    DOCUMENTATION = r"""
options:
  end:
    description:
      - End of the window, unix seconds or RFC 3339.
      - Empty with O(start) empty - the run's window as the results at O(path) record it (the last object's ready or
        available time).
    type: str
    default: ""
  path:
    description: The results JSON to write into (created when missing; its directory must exist).
    type: path
    required: true
  start:
    description:
      - Start of the window, unix seconds or RFC 3339.
      - Empty with O(end) empty - the run's window as the results at O(path) record it (the first object's creation).
    type: str
    default: ""
"""
