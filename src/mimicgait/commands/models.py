"""`mimicgait models`: the models shipped with the package, and every registered encoder with its
size and cost; `--card NAME` prints a shipped model's card.

Parameter counts are at paper width (the encoder defaults; BNNeck classifier excluded, it depends
on the dataset's class count); FLOPs per frame come from one forward pass of one sequence at the
chosen input size, counted by torch.utils.flop_counter and divided by the frame count.
"""

from __future__ import annotations

import argparse

import torch

from mimicgait.commands._checks import check_frame_size
from mimicgait.errors import UserError
from mimicgait.models import count_parameters, create_encoder, flops_per_frame, list_encoders


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list the shipped pretrained models and the gait encoders (parameters, FLOPs)",
        description="Lists the models shipped inside the package (use the name wherever --model takes a "
        "file: embed, gallery enroll, identify, eval, export; mimicgait.load(NAME) in Python), then every "
        "registered encoder with its parameters and FLOPs per frame.")
    parser.add_argument("--card", metavar="NAME", help="print the model card of a shipped model and exit")
    parser.add_argument("--pretrained", action="store_true", help="list the shipped models only")
    parser.add_argument("--input", nargs=2, type=int, metavar=("H", "W"), default=(64, 44),
                        help="input frame size for the FLOPs count (default 64 44)")
    parser.add_argument("--frames", type=int, default=10, help="frames of the sequence used to count FLOPs")
    parser.add_argument("--no-flops", action="store_true", help="skip the (slower) FLOPs count")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mimicgait.pretrained import shipped_model, shipped_models

    if args.card:
        print(shipped_model(args.card).card.read_text(), end="")
        return 0
    print_shipped(list(shipped_models().values()))
    if args.pretrained:
        return 0
    print()
    if args.frames < 3:
        raise UserError("--frames must be at least 3 (GaitGL's temporal stride)")
    size = check_frame_size(args.input)
    torch.manual_seed(0)
    flops_title = "GFLOPs/frame @" + "x".join(map(str, size))
    print(f"{'encoder':<16} {'params':>10} {'C':>5} {'P':>4} {flops_title:>22}")
    for label, name, kwargs in _rows():
        encoder = create_encoder(name, input_size=size, **kwargs)
        params = count_parameters(encoder)
        flops = "-" if args.no_flops else f"{flops_per_frame(encoder, args.frames) / 1e9:.3f}"
        print(f"{label:<16} {params / 1e6:>9.2f}M {encoder.out_channels:>5} {encoder.parts:>4} {flops:>22}")
    return 0


def print_shipped(models: list) -> None:
    """One line per shipped model: name, what it is, input, size, fingerprint and its result."""
    if not models:
        print("no pretrained models are shipped with this installation")
        return
    print(f"{'pretrained model':<20} {'stage':<14} {'backbone':<9} {'input':>6} {'MB':>5} "
          f"{'fingerprint':<12}  result")
    for m in models:
        stage = f"{m.stage} {m.inference}" if m.inference else m.stage
        frame = "x".join(map(str, m.frame_size))
        print(f"{m.name:<20} {stage:<14} {m.backbone:<9} {frame:>6} {m.bytes / 1e6:>5.1f} "
              f"{m.fingerprint[:12]:<12}  {m.summary}")


def _rows() -> list[tuple[str, str, dict]]:
    """(label, encoder name, extra kwargs): every registered encoder, DeepGaitV2 in both variants."""
    rows = []
    for name in list_encoders():
        if name == "deepgaitv2":
            rows += [("deepgaitv2-p3d", name, {"variant": "p3d"}), ("deepgaitv2-3d", name, {"variant": "3d"})]
        else:
            rows.append((name, name, {}))
    return rows
