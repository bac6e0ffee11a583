# Copyright: scalelab contributors
# Apache-2.0
"""The one base of scalelab's errors: a module catches ScalelabError and fails with its message, which names the
option and value at fault."""

from __future__ import annotations


class ScalelabError(Exception):
    """A refusal or failure whose message is meant for the user as it is."""
