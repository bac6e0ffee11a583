"""Action plugins of ours with their module calls replaced by scripted results (no host to run them on)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def scripted_action():
    """Builds plugin's ActionModule for a task with args; each module call it makes returns the next of results, and
    is recorded in .calls as (module name, module args)."""

    def build(plugin, args, results, check_mode=False):
        class Scripted(plugin.ActionModule):
            def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kw):
                self.calls.append((module_name, module_args))
                return dict(self.results.pop(0))

        name = "scalelab.capi." + plugin.__name__.rsplit(".", 1)[-1]
        task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, action=name)
        connection = SimpleNamespace(_shell=SimpleNamespace(tmpdir="/nonexistent"))
        action = Scripted(task, connection, SimpleNamespace(check_mode=check_mode), None, None)
        action.results = list(results)
        action.calls = []
        return action

    return build
