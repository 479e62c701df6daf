"""The development suite (``kb eval --suite dev``) as a dated Markdown block for docs/evaluation.md.

Runs the project's decision (the shipped calibration, at the default answer precision target), its
decision before (the similarity, thresholds for overall accuracy, recalibrated in the same run) and
the two baselines on every development set in one run, and prints the date, the machine, the table,
the thresholds and how long it took. The JSON holds every metric and the risk-coverage curves
(``bench/risk_coverage_plot.py`` draws them).

    .venv/bin/python bench/dev_suite.py [--datasets ../shared/datasets] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge_index.decision import MULTILINGUAL_THRESHOLDS_FILE, load_calibration  # noqa: E402
from knowledge_index.devsets import DEFAULT_DATASETS  # noqa: E402
from knowledge_index.index import production_embedders  # noqa: E402
from knowledge_index.suite import run_suite, table  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=str(ROOT / DEFAULT_DATASETS), metavar="DIR")
    parser.add_argument("--json", metavar="OUT.json")
    args = parser.parse_args()

    shipped = load_calibration(), load_calibration(MULTILINGUAL_THRESHOLDS_FILE)
    result = run_suite(args.datasets, *production_embedders(), shipped, log=lambda text: print(text, file=sys.stderr))
    cpus = len(os.sched_getaffinity(0))
    print(f"{datetime.now(UTC):%Y-%m-%d}, {cpus} vCPU {cpu_model()}, Python {platform.python_version()}:\n")
    print(table(result))
    print()
    for method, thresholds in result.thresholds.items():
        print(f"- {method}: {thresholds.to_json()}")
    now = result.recalibrated.english, result.recalibrated.multilingual
    print(f"- shipped calibration matches a calibration in this run: {'yes' if now == shipped else 'no'}")
    print(f"- {result.seconds:.0f} s for the whole suite (calibration of every method included)")
    if args.json:
        Path(args.json).write_text(json.dumps(dataclasses.asdict(result), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
