"""scale_report run as Ansible does (conftest.run_module): the report, and the results' Markdown linking it."""

from __future__ import annotations

import os

from ansible_collections.scalelab.capi.plugins.module_utils.results import document
from test_scale_gate_compare import results


def test_the_markdown_links_the_report_and_every_plot_and_keeps_them_through_a_regather(tmp_path, run_module):
    path = results(tmp_path, "scale", 100, 2.3)
    md = tmp_path / "scale.md"
    md.write_text("# Scale results\n")
    args = {"path": path, "output_dir": str(tmp_path / "scale-report"), "markdown_path": str(md)}
    out = run_module("scale_report", **args)
    assert not out.get("failed") and out["changed"], out
    text = md.read_text()
    assert text.startswith("# Scale results\n\n" + document.REPORT_MARK + "\n## Report and plots\n")
    assert "- [HTML report, interactive plots](scale-report/report.html)" in text
    for plot, caption in zip(out["plots"], out["captions"], strict=True):
        assert f"- [{caption}](scale-report/{os.path.basename(plot)})" in text
    assert not run_module("scale_report", **args)["changed"]  # links written once
    # scale_results rewriting its Markdown keeps the section; a re-report then changes nothing.
    md.write_text(document.with_section("# Scale results, gathered again\n", text))
    assert md.read_text().endswith(text[text.index(document.REPORT_MARK) :])
    assert not run_module("scale_report", **args)["changed"]


def test_a_missing_markdown_is_named(tmp_path, run_module):
    out = run_module(
        "scale_report",
        path=results(tmp_path, "scale", 100, 2.3),
        output_dir=str(tmp_path / "r"),
        markdown_path=str(tmp_path / "none.md"),
    )
    assert (
        out["failed"]
        and out["msg"] == f"markdown_path={tmp_path}/none.md: no such file (the Markdown scale_results wrote)"
    )
