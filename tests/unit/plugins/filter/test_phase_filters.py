"""The scale_phases filters: what the check and the playbook's file names read from the one table of phases."""

from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.filter import phases


@pytest.mark.parametrize(
    ("item", "to"),
    [
        ({"name": "upgrade", "version": "v1.35.5"}, "v1.35.5"),
        ({"name": "scale_workers", "replicas": 0}, "0"),  # 0 names a file: scale_workers-0
        ({"name": "soak", "seconds": 1800}, "1800"),
        ({"name": "rollout"}, ""),
        ({"name": "delete"}, ""),
        ({"name": "churn"}, ""),
        ("upgrade", ""),
    ],
)
def test_phase_to(item, to):
    assert phases.phase_to(item) == to


def test_the_filters_are_the_tables():
    f = phases.FilterModule().filters()
    assert f["phase_problems"]([{"name": "rollout", "version": "v1"}]) == ["rollout takes no version"]
    forms = f["phase_forms"]()  # the phases cluster_phase makes, delete is not one
    assert forms.startswith("{name: upgrade, version: like v1.35.5} or ") and forms.endswith(
        " or {name: soak, seconds: 180 to 86400}"
    )


def test_phase_hosts_takes_the_checks_strings():
    # The check passes its knobs as they come from the inventory (strings from -e, numbers from files).
    upgrade = [{"name": "upgrade", "version": "v1.35.5"}]
    assert phases.FilterModule().filters()["phase_hosts"](upgrade, "20", 1, "0") == 21
