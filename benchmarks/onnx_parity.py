"""ONNX against PyTorch on real sequences: the largest embedding difference (relative to the
embedding scale) and Rank-1 of both, probes occluded as `mimicgait eval` occludes them.

    python benchmarks/onnx_parity.py --model RUN/mimic [--inference routed] --data DIR --subjects 063-074

Gallery: the subjects' nm-01..04 (holistic); probes: nm-05, nm-06 with --occlusion (default
top,bottom) drawn from --seed. The same padded batches go through both runtimes. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

import mimicgait
from mimicgait.commands.eval import parse_subjects
from mimicgait.deploy.inputs import embed_set, from_data
from mimicgait.deploy.modelfile import model_payload
from mimicgait.deploy.onnx_export import OnnxRecognizer, export_onnx
from mimicgait.deploy.search import ExactIndex


def rank1(probes: torch.Tensor, probe_ids: list[str], gallery: torch.Tensor, gallery_ids: list[str]) -> float:
    names = sorted(set(gallery_ids))
    index = ExactIndex(gallery, [names.index(s) for s in gallery_ids]).search(probes, 1)
    hits = sum(names[i] == s for i, s in zip(index.identity[:, 0], probe_ids, strict=True))
    return 100.0 * hits / len(probe_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="run directory or checkpoint")
    parser.add_argument("--inference", choices=("guided", "student", "routed"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--subjects", default="063-074")
    parser.add_argument("--occlusion", default="top,bottom")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    model = mimicgait.load(args.model, inference=args.inference)
    subjects = parse_subjects(args.subjects)
    enrolled = ["nm-01", "nm-02", "nm-03", "nm-04"]
    gallery = from_data(args.data, model.frame_size, subjects=subjects, types=enrolled)
    probes = from_data(args.data, model.frame_size, subjects=subjects, types=["nm-05", "nm-06"])
    with tempfile.TemporaryDirectory() as tmp:
        onnx_file = Path(tmp) / "model.onnx"
        export_onnx(model_payload(args.model, args.inference), onnx_file)
        runner = OnnxRecognizer(onnx_file)
        out = {}
        for name, embedder in (("torch", model), ("onnx", runner)):
            g, _ = embed_set(embedder, gallery, args.batch_size, role="gallery")
            p, _ = embed_set(embedder, probes, args.batch_size, args.occlusion, args.seed)
            out[name] = (g, p)
    diff = max(float((out["torch"][i] - out["onnx"][i]).abs().max()) for i in (0, 1))
    scale = max(float(out["torch"][i].abs().max()) for i in (0, 1))
    gallery_ids, probe_ids = [k[0] for k in gallery.keys], [k[0] for k in probes.keys]
    print(json.dumps({
        "benchmark": "onnx_parity", "model": str(args.model), "inference": model.meta["inference"],
        "subjects": f"{subjects[0]}-{subjects[-1]} ({len(subjects)})", "gallery_sequences": len(gallery),
        "probe_sequences": len(probes), "occlusion": args.occlusion, "seed": args.seed,
        "lengths_input": runner.with_lengths, "max_abs_diff": diff, "embedding_scale": scale,
        "relative": diff / scale,
        "rank1_torch": rank1(out["torch"][1], probe_ids, out["torch"][0], gallery_ids),
        "rank1_onnx": rank1(out["onnx"][1], probe_ids, out["onnx"][0], gallery_ids),
    }, indent=1))


if __name__ == "__main__":
    main()
