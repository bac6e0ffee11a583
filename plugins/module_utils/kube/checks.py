# Copyright: scalelab contributors
# Apache-2.0
"""Bounds of numeric options, checked before the first API call: one message naming the option and its value."""

from __future__ import annotations


def bounds(p: dict, at_least: dict[str, float] | None = None, positive: tuple[str, ...] = ()) -> str | None:
    """The first option below its least value (at_least) or not > 0 (positive), as a message; None when all hold."""
    for opt, least in (at_least or {}).items():
        if p.get(opt) is not None and p[opt] < least:
            return f"{opt}={p[opt]} must be >= {least}"
    for opt in positive:
        if p.get(opt) is not None and p[opt] <= 0:
            return f"{opt}={p[opt]} must be > 0 (seconds)"
    return None
