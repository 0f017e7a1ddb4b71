"""`mimicgait models`: list every registered encoder with its size and cost.

Parameter counts are at paper width (the encoder defaults; BNNeck classifier excluded, it depends
on the dataset's class count); FLOPs per frame come from one forward pass of one sequence at the
chosen input size, counted by torch.utils.flop_counter and divided by the frame count.
"""

from __future__ import annotations

import argparse

import torch

from mimicgait.errors import UserError
from mimicgait.models import count_parameters, create_encoder, flops_per_frame, list_encoders


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list gait encoders with parameters and FLOPs per frame")
    parser.add_argument("--input", nargs=2, type=int, metavar=("H", "W"), default=(64, 44),
                        help="input frame size for the FLOPs count (default 64 44)")
    parser.add_argument("--frames", type=int, default=10, help="frames of the sequence used to count FLOPs")
    parser.add_argument("--no-flops", action="store_true", help="skip the (slower) FLOPs count")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.frames < 3:
        raise UserError("--frames must be at least 3 (GaitGL's temporal stride)")
    size = tuple(args.input)
    torch.manual_seed(0)
    flops_title = "GFLOPs/frame @" + "x".join(map(str, size))
    print(f"{'encoder':<16} {'params':>10} {'C':>5} {'P':>4} {flops_title:>22}")
    for label, name, kwargs in _rows():
        encoder = create_encoder(name, input_size=size, **kwargs)
        params = count_parameters(encoder)
        flops = "-" if args.no_flops else f"{flops_per_frame(encoder, args.frames) / 1e9:.3f}"
        print(f"{label:<16} {params / 1e6:>9.2f}M {encoder.out_channels:>5} {encoder.parts:>4} {flops:>22}")
    return 0


def _rows() -> list[tuple[str, str, dict]]:
    """(label, encoder name, extra kwargs): every registered encoder, DeepGaitV2 in both variants."""
    rows = []
    for name in list_encoders():
        if name == "deepgaitv2":
            rows += [("deepgaitv2-p3d", name, {"variant": "p3d"}), ("deepgaitv2-3d", name, {"variant": "3d"})]
        else:
            rows.append((name, name, {}))
    return rows
