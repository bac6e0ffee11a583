# Copyright: scalelab contributors
# Apache-2.0
"""The report's charts as a person reads them: hover for values, drag to zoom, double-click to reset. Drawn in the
browser by plotly.js, taken from the plotly Python package (a runtime requirement) and embedded in the page when the
report is written, so the file opens offline; nothing of plotly.js is kept in this repository."""

from __future__ import annotations

import html
import importlib.util
import json
import os

# Where the plotly package keeps its bundled plotly.js; found without importing plotly (~0.5 s of imports).
_SPEC = importlib.util.find_spec("plotly")
LIBRARY = os.path.join(_SPEC.submodule_search_locations[0], "package_data", "plotly.min.js") if _SPEC else None
HAS_PLOTLY = LIBRARY is not None and os.path.isfile(LIBRARY)

# Marks the page once every chart has drawn (a headless browser test reads data-plots-drawn): a chart counts as
# drawn when plotly made its SVG and its drag layer (the zoom and hover surface).
SCRIPT = """
window.addEventListener("load", function () {
  var divs = Array.prototype.slice.call(document.querySelectorAll("div.plot"));
  var charts = divs.length ? JSON.parse(document.getElementById("charts").textContent) : [];
  document.body.setAttribute("data-plots", String(divs.length));
  Promise.all(divs.map(function (d, i) {
    return Plotly.newPlot(d, charts[i].data, charts[i].layout, {displaylogo: false, responsive: true});
  })).then(function () {
    var drawn = divs.filter(function (d) {
      return d.querySelector(".main-svg") !== null && d.querySelector(".nsewdrag") !== null;
    }).length;
    document.body.setAttribute("data-plots-drawn", String(drawn));
  });
});
"""


def library_version() -> str | None:
    """The embedded plotly.js's size and path, part of the report's cache key: another plotly redraws it."""
    return f"{LIBRARY}:{os.path.getsize(LIBRARY)}" if HAS_PLOTLY else None


def _trace(t: dict) -> dict:
    kind, color = t["kind"], t.get("color")
    out: dict = {"name": t.get("name") or "", "showlegend": bool(t.get("name"))}
    if kind in ("step", "line", "points"):
        out.update(type="scatter", x=t["x"], y=t["y"])
        if kind == "points":
            out.update(mode="markers", marker={"size": 4, "color": color})
        else:
            out.update(mode="lines", line={"shape": "hv" if kind == "step" else "linear", "width": 1.5, "color": color})
    elif kind == "hist":
        out.update(type="histogram", x=t["x"], nbinsx=t["bins"], marker={"color": color}, opacity=0.8)
    elif kind in ("bar", "stack"):
        out.update(type="bar", x=[str(v) for v in t["x"]], y=t["y"], marker={"color": color})
    else:  # barh
        out.update(type="bar", orientation="h", x=t["x"], y=t["y"], marker={"color": color})
    return out


def _shapes(marks: list[dict]) -> list[dict]:
    shapes = []
    for m in marks:
        legend = {"name": m["name"], "showlegend": True, "legendgroup": m["name"]}
        if m["kind"] == "vline":
            line = {"color": m.get("color"), "dash": m.get("dash", "solid"), "width": 1.5}
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": m["x"],
                    "x1": m["x"],
                    "y0": 0,
                    "y1": 1,
                    "line": line,
                    **legend,
                }
            )
        else:
            shapes.append(
                {
                    "type": "rect",
                    "xref": "x",
                    "yref": "paper",
                    "x0": m["x0"],
                    "x1": m["x1"],
                    "y0": 0,
                    "y1": 1,
                    "fillcolor": m["color"],
                    "opacity": 0.15,
                    "line": {"width": 0},
                    **legend,
                }
            )
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "y",
                    "x0": m["x0"],
                    "x1": m["x1"],
                    "y0": m["y"],
                    "y1": m["y"],
                    "line": {"color": m["color"]},
                    "legendgroup": m["name"],
                }
            )
    return shapes


def figure(c: dict) -> dict:
    """plotly's {data, layout} of one chart of report.plots."""
    bars = c["traces"][0]["kind"] == "barh"
    height = 90 + 26 * len(c["traces"][0]["x"]) if bars else 360
    layout = {
        "title": {"text": c["title"], "font": {"size": 14}},
        "xaxis": {"title": {"text": c["x"]}},
        "yaxis": {"title": {"text": c["y"]}, "automargin": True},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 45},
        "legend": {"font": {"size": 10}},
        "hovermode": "closest",
        "shapes": _shapes(c["marks"]),
    }
    if c["traces"][0]["kind"] in ("bar", "stack"):
        layout["bargap"] = 0.3
    if c["traces"][0]["kind"] == "stack":
        layout["barmode"] = "stack"
    return {"data": [_trace(t) for t in c["traces"]], "layout": layout}


def page_parts(figures: list[tuple[str, str, list[dict]]]) -> tuple[str, str]:
    """(the figures' markup, the scripts that draw them): one div per chart, in order, and the charts' data as JSON;
    plotly.js only when there is a chart to draw."""
    divs, data = [], []
    for stem, caption, panels in figures:
        inner = "".join('<div class="plot"></div>' for _dummy in panels)
        divs.append(f'<figure id="{html.escape(stem)}">{inner}<figcaption>{html.escape(caption)}</figcaption></figure>')
        data.extend(figure(c) for c in panels)
    if not data:
        return "", f"<script>{SCRIPT}</script>"
    with open(LIBRARY, encoding="utf-8") as f:
        lib = f.read()
    # "</" would end the script element early inside the JSON.
    charts = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    scripts = (
        f"<script>{lib}</script>\n"
        f'<script type="application/json" id="charts">{charts}</script>\n<script>{SCRIPT}</script>'
    )
    return "".join(divs), scripts
