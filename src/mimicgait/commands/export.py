"""`mimicgait export`: a trained run as one deployable file (.pt) or an ONNX graph with its sidecar."""

from __future__ import annotations

import argparse
import json
import logging

log = logging.getLogger(__name__)

FORMATS = ("pt", "onnx")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export` sub-command."""
    p = subparsers.add_parser(
        "export",
        help="write a trained model as one self-contained file (.pt) or as ONNX",
        description="Write the model of a run directory or checkpoint as one file that needs nothing else: "
        "weights only (for a mimic model the student, mixer, VEN and teacher its inference mode uses), "
        "the input convention, the embedding layout and metric, provenance and a fingerprint. It loads "
        "with weights_only=True (`mimicgait.load`, and every command that takes --model/--checkpoint). "
        "--format onnx writes an ONNX graph (dynamic batch and frame count, a lengths input for "
        "frame-wise encoders) plus FILE.json describing its inputs, and checks it against PyTorch.",
    )
    p.add_argument("--checkpoint", "--model", dest="checkpoint", required=True,
                   help="run directory, checkpoint, exported model file or shipped model name")
    p.add_argument("--out", required=True, help="file to write (.pt or .onnx)")
    p.add_argument("--format", choices=FORMATS, help="pt or onnx (default: from the --out suffix, else pt)")
    p.add_argument("--inference", choices=("guided", "student", "routed"),
                   help="mimic runs: which network to ship (default: what the run was trained to ship)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from mimicgait.deploy.recognizer import load_payload
    from mimicgait.io import check_not_an_input, check_output_file, os_errors, write_atomic
    from mimicgait.pretrained import model_path

    out = Path(args.out)
    fmt = args.format or ("onnx" if out.suffix.lower() == ".onnx" else "pt")
    check_not_an_input(out, "--out", [("--model", model_path(args.checkpoint))])
    check_output_file(out, args.force, "--out")
    if fmt == "onnx":
        from mimicgait.deploy.onnx_export import export_onnx, parity, require, sidecar_path

        check_not_an_input(sidecar_path(out), "--out sidecar", [("--model", model_path(args.checkpoint))])
        check_output_file(sidecar_path(out), args.force, "--out sidecar")
        for module in ("onnx", "onnxscript", "onnxruntime"):
            require(module)
    payload, source = load_payload(args.checkpoint, args.inference)
    summary = {"out": str(out), "format": fmt, "stage": payload["stage"], "inference": payload["inference"],
               "fingerprint": payload["fingerprint"], "from": source}
    with os_errors(out, "--out"):
        if fmt == "pt":
            write_atomic(out, lambda f: torch.save(payload, f))
        else:
            sidecar = export_onnx(payload, out)
            summary["lengths_input"] = sidecar["lengths_input"]
            summary["parity"] = parity(payload, out)
            summary["sidecar"] = str(sidecar_path(out))
    summary["bytes"] = out.stat().st_size
    log.info("wrote %s (%d bytes)", out, summary["bytes"])
    print(json.dumps(summary))
    return 0
