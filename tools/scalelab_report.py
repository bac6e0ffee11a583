"""Write the HTML report of a scale run from its results JSON, offline: no cluster, no Prometheus needed.

  tools/scalelab-report results/scale.json [--out DIR] [--baseline OLD.json] [--gate drift_pct=5 ...]

Prints the report's path, what saturated first, the broken gates and, with a baseline, the comparison table.
Exits 1 when a gate breaks or (with --fail-on-regression) a metric regressed.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.scalelab.capi.plugins.module_utils.errors import ScalelabError  # noqa: E402
from ansible_collections.scalelab.capi.plugins.module_utils.report import gates, html  # noqa: E402
from ansible_collections.scalelab.capi.plugins.module_utils.results import document  # noqa: E402


def gate(text: str) -> tuple[str, float]:
    name, _dummy, value = text.partition("=")
    try:
        return name, float(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--gate {text}: expected NAME=NUMBER") from e


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="results JSON of the run")
    ap.add_argument("--out", help="output directory (default: <results without .json>-report)")
    ap.add_argument("--baseline", help="results JSON of a baseline run")
    ap.add_argument("--tolerance-pct", type=float, default=10.0)
    ap.add_argument("--gate", type=gate, action="append", default=[], help="NAME=THRESHOLD, repeatable")
    ap.add_argument("--fail-on-regression", action="store_true")
    ap.add_argument("--title", default="")
    a = ap.parse_args(argv)
    missing = html.missing_libraries()
    if missing:
        print(f"scalelab-report: {sys.executable} lacks {missing}: pip install {missing}", file=sys.stderr)
        return 2
    try:
        doc = document.load(a.results, "results")
        base = document.load(a.baseline, "baseline") if a.baseline else None
        out = a.out or os.path.splitext(a.results)[0] + "-report"
        title = a.title or f"Scale report: {doc.get('run', {}).get('set') or a.results}"
        _dummy, res = html.build(doc, out, title, dict(a.gate) or None, base, a.baseline or "", a.tolerance_pct)
    except ScalelabError as e:
        print(f"scalelab-report: {e}", file=sys.stderr)
        return 2
    print(f"report: {res['html']} ({len(res['plots'])} plots)")
    first = res["saturated_first"]
    at = f"{first['job']} - {first['meaning']} at {first['first_seconds']:.0f} s" if first else "nothing"
    print(f"saturated first: {at}")
    for reason in res["broken"]:
        print(f"gate broken: {reason}")
    if res["comparison"] is not None:
        print("\n".join(gates.table(res["comparison"])))
    return 1 if res["broken"] or (a.fail_on_regression and res["regressed"]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
