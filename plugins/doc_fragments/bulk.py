# Copyright: scalelab contributors
# Apache-2.0
"""The options cluster_bulk and bmh_bulk share (BULK_ARGUMENT_SPEC in plugins/module_utils/sets/options.py)."""

from __future__ import annotations


class ModuleDocFragment:
    # extends_documentation_fragment: [scalelab.capi.kube, scalelab.capi.bulk]. Keep in step with
    # sets.options.BULK_ARGUMENT_SPEC (tests/unit/plugins/modules/test_docs.py compares them).
    DOCUMENTATION = r"""
options:
  batch_pause:
    description:
      - Seconds to wait between two batches (pacing, so the controllers acting on the new objects - Cluster API,
        the Bare Metal Operator - can keep up).
    type: float
    default: 0.0
  batch_size:
    description:
      - Members of the set (clusters or hosts) written per batch; C(0) writes all of them in one batch.
    type: int
    default: 0
  burst:
    description: Token-bucket burst of the client-side rate limit (calls allowed at once beyond O(qps)); at least C(1).
    type: int
    default: 200
  concurrency:
    description: API calls in flight at once (worker threads); at least C(1).
    type: int
    default: 16
  count:
    description:
      - Number of members of the set (clusters or hosts), indexes C(1..count).
      - With O(state=absent) it is ignored (every object of the set is deleted).
    type: int
    default: 0
  labels:
    description:
      - Extra labels on every object created, beside the set's own C(scalelab.io/set) and C(scalelab.io/index)
        (for example for a CAPM3 C(hostSelector)).
    type: dict
    default: {}
  name:
    description:
      - Name of the set; a DNS label. It labels every object (C(scalelab.io/set=<name>)) and is the C({name}) of
        O(name_pattern).
    type: str
    required: true
  name_pattern:
    description:
      - Names of the set's clusters or hosts, a Python format string with the fields C({name}) and C({index}).
      - Names must be unique DNS labels of at most 63 characters; the pattern is checked for every index.
    type: str
    default: "{name}-{index:04d}"
  pacing:
    description:
      - V(fixed) writes O(batch_size) members, waits O(batch_pause), and so on (all at once by default).
      - V(adaptive) writes members while fewer than a window of them are in flight (created, not yet ready) and
        tunes the window from their time to ready, so provisioning time stays flat near the highest pace the lab
        sustains; what queues is then the creation, not the controllers. The window starts at O(pacing_window),
        doubles while members finish at the lab's own pace, then grows by an eighth, and shrinks in proportion when
        they take more than 40% longer (the noise of a busy 2-core host stays below that); each change is judged
        by the median time of members created after it, the lab's own time by a low percentile of those medians.
        Members count as ready as the results count them (a Cluster by its Available or Ready condition, a
        BareMetalHost once available).
        The result's C(pacing) tells how it went.
      - With V(adaptive), O(batch_size) and O(batch_pause) must stay C(0).
    type: str
    choices: [fixed, adaptive]
    default: fixed
  pacing_interval:
    description:
      - With O(pacing=adaptive), seconds between two looks at the members in flight (one list of the set); at least
        C(0.5).
    type: float
    default: 5.0
  pacing_window:
    description: With O(pacing=adaptive), members in flight at the start, before any has finished; at least C(1).
    type: int
    default: 4
  qps:
    description:
      - Client-side API calls per second across all threads (the token bucket's refill rate); C(0) is unlimited.
    type: float
    default: 100.0
  retry_timeout:
    description:
      - Seconds one API call may keep retrying on 429 (honouring C(Retry-After)), 5xx and connection errors.
    type: float
    default: 120.0
"""
