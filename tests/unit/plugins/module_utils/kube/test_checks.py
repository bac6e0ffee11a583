from __future__ import annotations

import pytest
from ansible_collections.scalelab.capi.plugins.module_utils.kube.checks import bounds


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"count": -1, "machines": 0, "timeout": 10}, "count=-1 must be >= 0"),
        ({"count": 0, "machines": -3, "timeout": 10}, "machines=-3 must be >= 0"),
        ({"count": 5, "machines": 5, "timeout": 0}, "timeout=0 must be > 0 (seconds)"),
        ({"count": 5, "machines": 5, "timeout": -2.5}, "timeout=-2.5 must be > 0 (seconds)"),
        ({"count": 5, "machines": 5, "timeout": 1}, None),
        ({"count": None, "machines": 0, "timeout": None}, None),  # not given: the argument spec decides
    ],
)
def test_bounds_name_the_first_option_out_of_range(params, message):
    assert bounds(params, {"count": 0, "machines": 0}, ("timeout",)) == message
