"""`mimicgait gallery enroll|list|remove`: the identities `mimicgait identify` searches."""

from __future__ import annotations

import argparse
import json
import logging

from mimicgait.commands._inputs import add_input_options, add_model_options

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `gallery` sub-command and its actions."""
    p = subparsers.add_parser(
        "gallery",
        help="enrol identities into a gallery database, list or remove them",
        description="A gallery is one SQLite file of identities and sequence embeddings, bound to the "
        "model that made them (its fingerprint). Enrolment commits one identity at a time, so an "
        "interrupted enrolment keeps every identity it finished, and a rerun adds only what is missing; "
        "enrolments running at once into one gallery leave every sequence once. `list` only reads the "
        "file (read-only storage is fine).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    enroll = actions.add_parser("enroll", help="embed sequences and enrol them under their subject ids")
    enroll.add_argument("--gallery", required=True, help="gallery file (created when missing)")
    add_model_options(enroll)
    add_input_options(enroll, people="1")
    enroll.set_defaults(func=run_enroll)
    listing = actions.add_parser("list", help="identities and their sequence counts")
    listing.add_argument("--gallery", required=True)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=run_list)
    remove = actions.add_parser("remove", help="delete identities and their sequences")
    remove.add_argument("--gallery", required=True)
    remove.add_argument("names", nargs="+", help="identity names (subject ids)")
    remove.set_defaults(func=run_remove)


def run_enroll(args: argparse.Namespace) -> int:
    from collections import defaultdict
    from pathlib import Path

    from tqdm import tqdm

    from mimicgait.commands._inputs import load_recognizer, model_and_data, sequences_from_args
    from mimicgait.deploy.gallery import Gallery
    from mimicgait.deploy.inputs import embed_set
    from mimicgait.io import check_not_an_input, check_output_file

    path = Path(args.gallery)
    check_not_an_input(path, "--gallery", model_and_data(args))
    if not path.exists():
        check_output_file(path, False, "--gallery")
    recognizer = load_recognizer(args)
    if path.exists():  # refuse a foreign model, a locked or unwritable gallery before embedding anything
        with Gallery(path) as gallery:
            gallery.check_model(recognizer.meta)
    sequences = sequences_from_args(args, recognizer)
    by_subject: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(sequences.keys):
        by_subject[key[0]].append(i)
    added = sequences_done = skipped = 0
    with Gallery(path, create=True) as gallery:
        known = gallery.sources()  # to skip embedding what is there; enroll checks again as it writes
        for subject in tqdm(sorted(by_subject), desc="enrolling", unit="id", disable=args.no_progress):
            todo = [i for i in by_subject[subject] if sequences.sources[i] not in known]
            skipped += len(by_subject[subject]) - len(todo)
            if not todo:
                continue
            part = sequences.subset(todo)
            feats, _ = embed_set(recognizer, part, args.batch_size)
            done = gallery.enroll(recognizer.meta, [k[0] for k in part.keys], feats,
                                  [k[1] for k in part.keys], [k[2] for k in part.keys], part.sources,
                                  [int(n) for n in part.lengths])
            added += done.identities
            sequences_done += done.sequences
            skipped += len(todo) - done.sequences  # enrolled by another process meanwhile
        total = len(gallery.identities())
    print(json.dumps({"gallery": str(path), "new_identities": added, "sequences_enrolled": sequences_done,
                      "already_enrolled": skipped, "identities": total}))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from mimicgait.deploy.gallery import Gallery

    with Gallery(args.gallery, readonly=True) as gallery:
        rows = gallery.identities()
        meta = gallery.meta()
        model = gallery.model_description()
    if args.json:
        print(json.dumps({"fingerprint": meta.get("fingerprint"), "model": model,
                          "identities": [{"name": n, "sequences": c} for n, c in rows]}))
        return 0
    print(f"{args.gallery}: {len(rows)} identities, {sum(c for _, c in rows)} sequences; model "
          f"{model.get('stage')} {model.get('inference') or ''} {str(meta.get('fingerprint'))[:12]}")
    for name, count in rows:
        print(f"  {name}\t{count}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from mimicgait.deploy.gallery import Gallery
    from mimicgait.errors import UserError

    with Gallery(args.gallery) as gallery:
        removed = gallery.remove(args.names)
    if removed == 0:
        raise UserError(f"--gallery {args.gallery}: none of {', '.join(args.names)} is enrolled "
                        "(mimicgait gallery list shows who is)")
    print(json.dumps({"removed": removed, "not_found": len(args.names) - removed}))
    return 0
