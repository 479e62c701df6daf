"""Risk-coverage curves as an SVG image, from the development suite's JSON (``bench/dev_suite.py --json``).

For each chosen set, one panel: the share of wrong answers (risk) against the share of questions
answered (coverage), when the bot answers in order of its confidence, for each method. A lower curve
separates right from wrong answers better; the dot marks where the method's calibrated threshold
puts it.

    .venv/bin/python bench/risk_coverage_plot.py suite.json docs/images/risk-coverage.svg
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from pathlib import Path

SETS = ("clinc150-test", "banking77-oos-test", "clinc-credit-cards-test", "jhu-covidfaq", "xsid-de", "deepset-covid-de")
METHODS = {"minilm_knn": ("MiniLM kNN", "#999999"), "similarity": ("similarity (before)", "#e08a2c"),
           "project": ("confidence model", "#1f5fbf")}
PANEL, MARGIN, COLUMNS = 260, 44, 3


def panel(x0: float, y0: float, name: str, curves: dict[str, list[list[float]]], metrics: dict[str, dict]) -> list[str]:
    size = PANEL - MARGIN
    out = [f'<rect x="{x0}" y="{y0}" width="{size}" height="{size}" fill="none" stroke="#444"/>',
           f'<text x="{x0 + size / 2}" y="{y0 - 8}" text-anchor="middle" font-size="13">{escape(name)}</text>']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<text x="{x0 + tick * size}" y="{y0 + size + 14}" text-anchor="middle" '
                   f'font-size="10">{tick:g}</text>')
        out.append(f'<text x="{x0 - 4}" y="{y0 + size - tick * size + 3}" text-anchor="end" '
                   f'font-size="10">{tick:g}</text>')
    for method, (_, colour) in METHODS.items():
        coverage, risk = curves.get(method, ([], []))
        points = " ".join(f"{x0 + c * size:.1f},{y0 + size - r * size:.1f}"
                          for c, r in zip(coverage, risk, strict=True))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        figures = metrics.get(method, {})
        answered = 1 - (figures.get("escalation_rate") or 0) - (figures.get("clarification_rate") or 0)
        precision = figures.get("answer_precision")
        if precision is not None:
            y = y0 + size - (1 - precision) * size
            out.append(f'<circle cx="{x0 + answered * size:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="JSON written by bench/dev_suite.py --json")
    parser.add_argument("out", help="SVG file to write")
    args = parser.parse_args()
    data = json.loads(Path(args.suite).read_text(encoding="utf-8"))
    rows = (len(SETS) + COLUMNS - 1) // COLUMNS
    width, height = COLUMNS * PANEL + MARGIN, rows * PANEL + 90
    body = []
    for i, name in enumerate(SETS):
        x0, y0 = MARGIN + (i % COLUMNS) * PANEL, 30 + (i // COLUMNS) * PANEL
        body += panel(x0, y0, name, data["curves"][name], data["metrics"][name])
    legend_y = height - 44
    for j, (label, colour) in enumerate(METHODS.values()):
        x = MARGIN + j * 210
        body.append(f'<line x1="{x}" y1="{legend_y}" x2="{x + 24}" y2="{legend_y}" stroke="{colour}" '
                    'stroke-width="3"/>')
        body.append(f'<text x="{x + 30}" y="{legend_y + 4}" font-size="12">{escape(label)}</text>')
    body.append(f'<text x="{MARGIN}" y="{legend_y + 26}" font-size="11">x: share of the questions answered, in order '
                'of confidence; y: share of those answers that are wrong; dot: where the calibrated threshold '
                'stops</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">'
           f'<rect width="100%" height="100%" fill="white"/>{"".join(body)}</svg>\n')
    Path(args.out).write_text(svg, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
