# Copyright: scalelab contributors
# Apache-2.0
"""The attributes several modules state alike (community.general's `attributes` fragment is the model)."""

from __future__ import annotations


class ModuleDocFragment:
    # Every module, with ansible.builtin.action_common_attributes: they run on POSIX hosts.
    DOCUMENTATION = r"""
attributes:
  platform:
    platforms: posix
"""

    # Modules that only read (scalelab.capi.attributes.read_only).
    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
"""

    # Modules whose one write is their optional Markdown (scalelab.capi.attributes.markdown).
    MARKDOWN = r"""
attributes:
  check_mode:
    support: full
    details: Writes nothing and reports whether O(markdown_path) would change.
  diff_mode:
    support: none
"""

    # The waits (scalelab.capi.attributes.wait): never a change; check mode polls once.
    WAIT = r"""
attributes:
  check_mode:
    support: full
    details: One poll, no wait.
  diff_mode:
    support: none
"""
