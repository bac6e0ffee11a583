# Copyright: scalelab contributors
# Apache-2.0
"""The options every *_bulk module (cluster_bulk, bmh_bulk) shares: what its set is called and how it is paced.

Documented once in plugins/doc_fragments/bulk.py; a module spreads BULK_ARGUMENT_SPEC into its ARGUMENT_SPEC and
extends that fragment. Options whose meaning differs per module (namespace, state, delete_timeout) stay in each.
"""

from __future__ import annotations

BULK_ARGUMENT_SPEC = {
    "batch_pause": {"type": "float", "default": 0.0},
    "batch_size": {"type": "int", "default": 0},
    "burst": {"type": "int", "default": 200},
    "concurrency": {"type": "int", "default": 16},
    "count": {"type": "int", "default": 0},
    "labels": {"type": "dict", "default": {}},
    "name": {"type": "str", "required": True},
    "name_pattern": {"type": "str", "default": "{name}-{index:04d}"},
    "pacing": {"type": "str", "default": "fixed", "choices": ["fixed", "adaptive"]},
    "pacing_interval": {"type": "float", "default": 5.0},
    "pacing_window": {"type": "int", "default": 4},
    "qps": {"type": "float", "default": 100.0},
    "retry_timeout": {"type": "float", "default": 120.0},
}
