"""`mimicgait embed`: one embedding per sequence, with its subject, condition and view."""

from __future__ import annotations

import argparse
import json
import logging

from mimicgait.commands._inputs import add_input_options, add_model_options

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `embed` sub-command."""
    p = subparsers.add_parser(
        "embed",
        help="embed every sequence of a data directory or video with a trained model",
        description="Embed sequences with a trained model (exported file, checkpoint or run) and write "
        "OUT.npz (embeddings float32 [n, C, P], subjects, conditions, views, lengths, occlusion, the "
        "model fingerprint) or OUT.parquet (one row per sequence; needs pyarrow).",
    )
    add_model_options(p)
    add_input_options(p)
    p.add_argument("--occlusion", default="none",
                   help="occlude each sequence as `mimicgait eval` does (kinds, e.g. top,bottom; "
                        "default none)")
    p.add_argument("--seed", type=int, default=0, help="occlusion seed (default 0)")
    p.add_argument("--out", required=True, help="output file: .npz or .parquet")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing --out (never one of the inputs: model, data)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from mimicgait.commands._inputs import load_recognizer, model_and_data, sequences_from_args
    from mimicgait.deploy.inputs import embed_set
    from mimicgait.errors import UserError
    from mimicgait.io import check_not_an_input, check_output_file, os_errors, write_atomic

    out = Path(args.out)
    if out.suffix.lower() not in (".npz", ".parquet"):
        raise UserError(f"--out {out}: use a .npz or .parquet file name")
    check_not_an_input(out, "--out", model_and_data(args))  # never over what it reads, even with --force
    check_output_file(out, args.force, "--out")
    if out.suffix.lower() == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("--out *.parquet needs pyarrow (pip install pyarrow); or write .npz") from None
    recognizer = load_recognizer(args)
    sequences = sequences_from_args(args, recognizer)
    log.info("embedding %d sequences with %s on %s", len(sequences), recognizer, recognizer.device)
    feats, kinds = embed_set(recognizer, sequences, args.batch_size, args.occlusion, args.seed,
                             progress=not args.no_progress)
    columns = {
        "subjects": np.array([k[0] for k in sequences.keys], dtype=str),
        "conditions": np.array([k[1] for k in sequences.keys], dtype=str),
        "views": np.array([k[2] for k in sequences.keys], dtype=str),
        "lengths": np.asarray(sequences.lengths, dtype=np.int64),
        "occlusion": np.array(kinds, dtype=str),
        "sources": np.array(sequences.sources, dtype=str),
    }
    model = json.dumps({k: recognizer.meta[k] for k in ("stage", "inference", "backbone", "frame_size",
                                                        "embedding", "fingerprint")})
    with os_errors(out, "--out"):
        if out.suffix.lower() == ".npz":
            write_atomic(out, lambda f: np.savez(f, embeddings=feats.numpy(),
                                                  fingerprint=recognizer.fingerprint,
                                                  model=model, **columns))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({**{k: v.tolist() for k, v in columns.items()},
                              "embedding": [row.tolist() for row in feats.reshape(len(feats), -1).numpy()]})
            table = table.replace_schema_metadata({"mimicgait.model": model,
                                                   "mimicgait.shape": json.dumps(list(feats.shape[1:]))})
            write_atomic(out, lambda f: pq.write_table(table, f))
    print(json.dumps({"out": str(out), "sequences": len(sequences), "shape": list(feats.shape),
                      "fingerprint": recognizer.fingerprint}))
    return 0
