"""Mean and spread of evaluation reports over occlusion seeds, one row per model.

    python benchmarks/seed_spread.py --model mimic RUN/fair/mimic-guided-s*.json \
        --model control RUN/fair/bl2-teacher-s*.json

Each `--model LABEL` is followed by the JSON reports of `mimicgait eval` for that model (one per
seed, same protocol and subjects). Prints one JSON object: per model and metric the mean, the
sample standard deviation, min and max, the seeds, and the subject and probe counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar=("LABEL", "REPORT"),
                        help="a label, then its reports")
    parser.add_argument("--metrics", default="rank1.NM,rank1.BG,rank1.CL")
    args = parser.parse_args()
    keys = args.metrics.split(",")
    out = {}
    for label, *files in args.model:
        reports = [json.loads(Path(f).read_text()) for f in files]
        row = {"seeds": [r.get("seed") for r in reports], "subjects": len(reports[0].get("subjects") or []),
               "probes": (reports[0].get("counts") or {}).get("probes")}
        for key in keys:
            values = [float(r["metrics"][key]) for r in reports]
            row[key] = {"mean": round(statistics.mean(values), 2),
                        "std": round(statistics.stdev(values), 2) if len(values) > 1 else None,
                        "min": round(min(values), 2), "max": round(max(values), 2)}
        out[label] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
