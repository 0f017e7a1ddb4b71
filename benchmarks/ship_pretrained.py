"""Ship the CASIA-B recipe's models inside the package: export, evaluate, write cards and the index.

From a run of the CASIA-B CPU recipe (`mimicgait pipeline --config configs/casia-b/cpu.yaml`), this
exports the routed mimic (what the recipe ships), the guided mimic (the paper's network) and the
teacher (the holistic model) as one-file models into `src/mimicgait/pretrained/`, evaluates each
exported file with `mimicgait eval` itself on the validation subjects (the paper's protocol with
top+bottom occlusion over `--seeds` draws, and holistic input), stores the embeddings of a few
official sequences for the tests, and writes a Markdown card per model and `index.json`. Prints one
JSON object: each model's file, size, fingerprint and results.

    python benchmarks/ship_pretrained.py --run RUN --data ../shared/data/casia-b/train \
        --commit $(cat RUN-COMMIT) --time-log time.log
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from casia_b_results import time_log, train_minutes

from mimicgait.cli import main as cli_main
from mimicgait.deploy.inputs import from_data
from mimicgait.deploy.recognizer import load, load_payload
from mimicgait.errors import UserError
from mimicgait.io import check_output_file, write_atomic
from mimicgait.models.checkpoint import sha256

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("NM", "BG", "CL")
# (name, stage directory of the run, inference mode, what it is)
MODELS = (
    ("casiab-mimic", "mimic", "routed",
     "MimicGait, routed: the guided network for sequences the VEN finds occluded, the teacher for the "
     "rest (what the recipe ships: occlusion-robust, and the teacher's accuracy on unoccluded input)"),
    ("casiab-mimic-guided", "mimic", "guided",
     "MimicGait, guided: the student with VEN guidance on every sequence (the paper's network)"),
    ("casiab-teacher", "teacher", None,
     "the teacher: GaitBase trained on holistic silhouettes (the holistic model; Baseline-1 when the "
     "input is occluded)"),
)
# official sequences whose embeddings the tests compare with (validation subject 063, side view)
REFERENCE = {"subjects": ["063"], "types": ["nm-05", "bg-01", "cl-01"], "views": ["090", "036"]}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run directory of the CASIA-B CPU recipe")
    p.add_argument("--data", required=True, help="CASIA-B training split (holds the validation subjects)")
    p.add_argument("--subjects", default="063-074", help="validation subjects (the recipe's val_subjects)")
    p.add_argument("--seeds", type=int, default=5, help="occlusion draws (seeds 0..N-1)")
    p.add_argument("--out", default=str(ROOT / "src/mimicgait/pretrained"), help="package folder")
    p.add_argument("--reference", default=str(ROOT / "tests/data/pretrained_reference.npz"))
    p.add_argument("--commit", required=True, help="the commit the recipe ran from")
    p.add_argument("--time-log", help="`/usr/bin/time -v` output of the pipeline (wall time, memory)")
    p.add_argument("--command", default="mimicgait pipeline --config configs/casia-b/cpu.yaml --data "
                   "../shared/data/casia-b/train --out RUN --set 'pipeline.stages=[teacher,ven,mimic]'",
                   help="the command that trained the run (for the cards)")
    p.add_argument("--note", default="", help="a sentence on how the run went, for the cards' recipe")
    p.add_argument("--results", help="the JSON this script printed for the same run: reuse its evaluations "
                   "(checked against the exported fingerprints) and only rewrite files, cards and index")
    p.add_argument("--force", action="store_true", help="replace shipped files")
    return p.parse_args()


def evaluate_file(model: Path, data: str, subjects: str, occlusion: str, seed: int) -> dict[str, float]:
    """Rank-1 per group from `mimicgait eval` on the shipped file (the command the card quotes)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        argv = ["eval", "--model", str(model), "--data", data, "--subjects", subjects,
                "--protocol", "casia-b", "--occlusion", occlusion, "--seed", str(seed), "--device", "cpu",
                "--json", str(report), "--no-progress"]
        with contextlib.redirect_stdout(io.StringIO()):
            status = cli_main(argv)
        if status != 0:
            raise SystemExit(f"mimicgait {' '.join(argv)} failed with status {status}")
        metrics = json.loads(report.read_text())["metrics"]
    return {g: float(metrics[f"rank1.{g}"]) for g in GROUPS}


def spread(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def results_of(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Holistic Rank-1, and top+bottom Rank-1 per draw with mean and sample std."""
    draws = [evaluate_file(model, args.data, args.subjects, "top,bottom", s) for s in range(args.seeds)]
    return {
        "holistic": evaluate_file(model, args.data, args.subjects, "none", 0),
        "occluded_draws": draws,
        "occluded": {g: spread([d[g] for d in draws]) for g in GROUPS},
    }


def reference_embeddings(files: dict[str, Path], data: str) -> dict[str, np.ndarray]:
    """Embeddings of the REFERENCE sequences by every shipped model, plus their keys."""
    out: dict[str, np.ndarray] = {}
    for name, file in files.items():
        model = load(file)
        sequences = from_data(data, model.frame_size, **REFERENCE)
        out["keys"] = np.array(["-".join(k) for k in sequences.keys])
        out[name] = model.embed([sequences.load(i) for i in range(len(sequences))]).numpy()
    return out


def fmt_row(label: str, values: dict[str, Any]) -> str:
    cells = [f"{v[0]:.2f} ± {v[1]:.2f}" if isinstance(v, (tuple, list)) else f"{v:.2f}" for v in
             (values[g] for g in GROUPS)]
    return f"| {label} | " + " | ".join(cells) + " |"


def card(name: str, stage: str, mode: str | None, what: str, entry: dict[str, Any], teacher: dict[str, Any],
         args: argparse.Namespace, payload: dict[str, Any]) -> str:
    res = entry["results"]
    spec = payload["model_spec"]["encoder"]
    frame = "x".join(map(str, payload["input"]["frame_size"]))
    jobs = ["teacher"] if stage == "teacher" else ["teacher", "ven", "mimic"]
    times, total = [], 0.0
    for job in jobs:
        minutes, per_step, steps = train_minutes(Path(args.run) / job / "log.jsonl")
        times.append(f"{job} {steps} steps in {minutes:.1f} min")
        total += minutes
    rp = {g: res["occluded"][g][0] / teacher["holistic"][g] for g in GROUPS}
    retention = {g: res["holistic"][g] / teacher["holistic"][g] for g in GROUPS}
    first = res["occluded_draws"][0]
    subjects = args.subjects
    return "\n".join([
        f"# Model card: `{name}`",
        "",
        f"{what[0].upper()}{what[1:]}.",
        "",
        "## The model",
        "",
        f"- Stage `{stage}`" + (f", inference `{mode}`" if mode else "") + f"; backbone `{spec['name']}` at "
        f"quarter width (channels {spec.get('channels')}, {payload['embedding']['parts']} parts, "
        f"{payload['embedding']['channels']}-d parts; embedding `[N, {payload['embedding']['channels']}, "
        f"{payload['embedding']['parts']}]`, metric `{payload['embedding']['metric']}`).",
        f"- Input: silhouette sequences `[T, H, W]` (any size: frames other than {frame} are pretreated: "
        f"crop to the person, scale to the height, centre); inside, the network applies "
        f"`{payload['input']['preprocess']}` (for `opengait`: the centre 64x44 of a 64x64 frame) and "
        f"sees {'x'.join(map(str, spec.get('input_size', [])))} frames.",
        f"- File `{entry['file']}`: {entry['bytes'] / 1e6:.2f} MB, sha256 `{entry['sha256']}`, model "
        f"fingerprint `{entry['fingerprint']}` (checked on every load; the file loads with "
        "`weights_only=True` and is never downloaded).",
        "",
        "## Data and licence",
        "",
        "Trained on CASIA-B (Yu, Tan and Tan, ICPR 2006; Institute of Automation, Chinese Academy of "
        "Sciences) silhouettes: the training split's subjects 001-062, 10 conditions x 11 views each. "
        f"Subjects {subjects} were held out of training and are what the results below are measured on; "
        "the test split (075-124) was never used. CASIA-B is released for research use only, and so are "
        "these weights: use them for research, not in a product or for surveillance of real people.",
        "",
        "## Recipe",
        "",
        f"`configs/casia-b/cpu.yaml` at commit `{args.commit}`, run as `{args.command}` on a 2-core CPU "
        "(bf16 autocast where the CPU has it; no GPU). The recipe's two fair controls (Baseline-2 and "
        "Occlusion-Aware) ship nothing and were not trained in this run. Training time: "
        f"{'; '.join(times)}. The run as timed: "
        f"{time_log(Path(args.time_log) if args.time_log else None) or 'not recorded'}. {args.note}".rstrip(),
        "",
        "## Validation results",
        "",
        f"CASIA-B protocol on subjects {subjects} (gallery nm-01..04; probes NM, BG, CL; 11 views, identical "
        "views excluded; 264 probes per group), Rank-1 (%), each measured by `mimicgait eval` on this file "
        f"(fp32, CPU). Top+bottom occlusion R = (0.4, 0.6) on probe and gallery (the paper's protocol): "
        f"mean ± sample std over seeds 0-{args.seeds - 1}.",
        "",
        "| input | NM | BG | CL |",
        "| --- | --- | --- | --- |",
        fmt_row("holistic (no occlusion)", res["holistic"]),
        fmt_row(f"top+bottom, {args.seeds} draws", res["occluded"]),
        fmt_row("top+bottom, seed 0 (the command below)", first),
        "",
        "RP (occluded Rank-1 / the teacher's holistic Rank-1): " + ", ".join(
            f"{g} {rp[g]:.2f}" for g in GROUPS) + ". Holistic retention (holistic Rank-1 / the teacher's): "
        + ", ".join(f"{g} {retention[g]:.2f}" for g in GROUPS) + ".",
        "",
        "## Intended use and limits",
        "",
        "Research on gait recognition under occlusion, and trying the library's enrol/identify path "
        "without training first. Limits: trained on 62 people of one dataset, filmed indoors by cameras "
        "at one height (views 0-180 degrees, best on side-ish views), on silhouettes from background "
        "subtraction (other segmenters give other silhouettes); a quarter-width network on "
        "32x22 frames, well below the paper's full-width GaitBase (the paper's figures are not reached); "
        "occlusion seen in training: top and bottom crops only. Identification between a few enrolled "
        "people from the same camera is what it does reasonably; open-set answers need a threshold "
        "calibrated on your own data (`identify --far --calibration`).",
        "",
        "## Reproduce",
        "",
        "```bash",
        f"mimicgait eval --model {name} --data ../shared/data/casia-b/train --subjects {subjects} "
        f"--protocol casia-b --occlusion top,bottom --seed 0   # the seed-0 row",
        f"mimicgait eval --model {name} --data ../shared/data/casia-b/train --subjects {subjects} "
        "--protocol casia-b   # the holistic row",
        f"# retrain (this model's jobs took {total:.0f} min of training here) and re-ship:",
        f"{args.command}",
        "python benchmarks/ship_pretrained.py --run RUN --data ../shared/data/casia-b/train --commit COMMIT",
        "```",
        "",
    ])


def main() -> int:
    args = parse_args()
    out = Path(args.out)
    for name, *_ in MODELS:
        for suffix in (".pt", ".md"):
            check_output_file(out / f"{name}{suffix}", args.force, "--out")
    check_output_file(Path(args.reference), args.force, "--reference")
    check_output_file(out / "index.json", args.force, "--out")
    # every model is read and checked before any shipped file is replaced
    payloads = {name: load_payload(Path(args.run) / stage, mode)[0] for name, stage, mode, _ in MODELS}
    earlier = json.loads(Path(args.results).read_text()) if args.results else None
    for name, payload in payloads.items():
        if earlier is not None and earlier.get(name, {}).get("fingerprint") != payload["fingerprint"]:
            raise UserError(f"--results {args.results}: {name} was evaluated with another model")
    entries, files = {}, {}
    for name, _stage, _mode, _ in MODELS:
        payload = payloads[name]
        file = out / f"{name}.pt"
        write_atomic(file, lambda f, p=payload: torch.save(p, f))
        files[name] = file
        entries[name] = {"file": file.name, "sha256": sha256(file),
                         "fingerprint": payload["fingerprint"],
                         "stage": payload["stage"], "inference": payload["inference"],
                         "backbone": payload["model_spec"]["encoder"]["name"],
                         "frame_size": payload["input"]["frame_size"], "bytes": file.stat().st_size,
                         "card": f"{name}.md"}
        print(f"exported {file} ({entries[name]['bytes']} bytes)", file=sys.stderr)
    for name in files:
        if earlier is not None:
            entries[name]["results"] = earlier[name]["results"]
            continue
        print(f"evaluating {name}", file=sys.stderr)
        entries[name]["results"] = results_of(files[name], args)
    teacher = entries["casiab-teacher"]["results"]
    for name, stage, mode, what in MODELS:
        res = entries[name]["results"]
        nm_mean, nm_std = res["occluded"]["NM"]
        entries[name]["summary"] = (f"CASIA-B {args.subjects} Rank-1 NM: {nm_mean:.1f} ± {nm_std:.1f} "
                                    f"top+bottom, {res['holistic']['NM']:.1f} holistic")
        text = card(name, stage, mode, what, entries[name], teacher, args, payloads[name])
        write_atomic(out / f"{name}.md", lambda f, t=text: f.write(t.encode()))
    reference = reference_embeddings(files, args.data)
    write_atomic(Path(args.reference), lambda f: np.savez(f, **reference))
    index = {name: {k: v for k, v in e.items() if k != "results"} for name, e in entries.items()}
    write_atomic(out / "index.json", lambda f: f.write((json.dumps(index, indent=1) + "\n").encode()))
    print(json.dumps({name: {k: e[k] for k in ("file", "bytes", "fingerprint", "summary", "results")}
                      for name, e in entries.items()}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:  # a mistake in the arguments or the run: one line, as the CLI says it
        print(f"ship_pretrained: error: {' '.join(str(err).split())}", file=sys.stderr)
        sys.exit(2)
