# Copyright: scalelab contributors
# Apache-2.0
"""The one base of scalelab's errors: a module catches ScalelabError and fails with its message, which names the
option and value at fault (run_module does so for a module whose logic is one run(params, check_mode))."""

from __future__ import annotations

from collections.abc import Callable


class ScalelabError(Exception):
    """A refusal or failure whose message is meant for the user as it is; `result`, when given, is returned with the
    failure (what the module found or did before it failed)."""

    def __init__(self, msg: str = "", result: dict | None = None):
        super().__init__(msg)
        self.result = result or {}


def run_module(module, run: Callable[[dict, bool], tuple[bool, dict]], missing: str = "") -> None:
    """The end of a module's main(): exit with run(params, check_mode) -> (changed, result); a ScalelabError fails
    the task with its message and the result it carries. `missing` names a library the module lacks: it fails first."""
    if missing:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib(missing))
    try:
        changed, result = run(module.params, module.check_mode)
    except ScalelabError as e:
        module.fail_json(msg=str(e), **e.result)
    module.exit_json(changed=changed, **result)
