"""``facewire export [FAMILY] CHECKPOINT --out DIR``: ONNX with explicit streaming state +
model card. Without FAMILY the checkpoint says which family it is (blendshapes, landmarks
or densify; an emotion run needs ``export emotion``)."""

from __future__ import annotations

import argparse
import sys

from facewire.commands.families import FAMILIES, family_list

MESH_KIND = {"s2l": "landmarks", "s2d": "densify"}  # checkpoint kind -> family


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained checkpoint to ONNX + model card: "
                       + family_list())
    p.add_argument("target", metavar="FAMILY|CHECKPOINT",
                   help=f"the family ({family_list()}); without it the checkpoint says "
                   "which it is (not for emotion)")
    p.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT",
                   help="best.pt / last.pt, or a run folder (uses best.pt; fusion.pt for "
                   "emotion); or an exported blendshape card (.json) to re-export with "
                   "another --speaker-norm-prior or --silence-reset")
    p.add_argument("--out", required=True, help="folder for <name>.onnx and <name>.json")
    p.add_argument("--name", default=None, help="file stem (default facewire_<arch>_<features>)")
    p.add_argument("--fps", type=float, default=60.0, help="animation frame rate in the card")
    p.add_argument("--tol", type=float, default=1e-4, help="max |onnxruntime - torch|")
    p.add_argument("--speaker-norm-prior", type=float, default=None, metavar="FRAMES",
                   help="set the speaker normaliser's prior weight (frames; lower adapts to "
                        "a new voice sooner). It runs before the graph, so a card can be "
                        "re-exported with it and the ONNX file stays as it is")
    p.add_argument("--silence-reset", type=float, default=None, metavar="SECONDS",
                   help="card runtime.silence_reset_s: after this much silence the network's "
                        "recurrent state starts afresh (0: never); runtime only, so a card "
                        "can be re-exported with it and the ONNX file stays as it is")
    p.set_defaults(func=_export)


def _split(target: str, checkpoint: str | None) -> tuple[str | None, str]:
    """(family or None, checkpoint) from the positional words."""
    if checkpoint is None and target not in FAMILIES:
        return None, target
    if checkpoint is not None and target in FAMILIES:
        return target, checkpoint
    if checkpoint is None:
        raise ValueError(f"export {target}: which checkpoint? (facewire export {target} "
                         "CHECKPOINT --out DIR)")
    raise ValueError(f"export: {target!r} is not a family ({family_list()}); use 'facewire export "
                     "[FAMILY] CHECKPOINT --out DIR'")


def _export(args: argparse.Namespace) -> int:
    from facewire.models.card import CardError
    from facewire.train.mesh.export import checkpoint_kind
    from facewire.train.runs import CheckpointError

    try:
        family, args.checkpoint = _split(args.target, args.checkpoint)
    except ValueError as exc:
        print(f"facewire {exc}", file=sys.stderr)
        return 2
    if family == "emotion":
        return _export_emotion(args)
    detected = MESH_KIND.get(checkpoint_kind(args.checkpoint) or "")
    if family is not None and detected not in (None, family):
        print(f"facewire export {family}: {args.checkpoint} is a {detected} checkpoint; use "
              f"'facewire export {detected}'", file=sys.stderr)
        return 2
    if family in MESH_KIND.values() and detected is None:
        print(f"facewire export {family}: {args.checkpoint}: not a {family} checkpoint (train "
              f"one with 'facewire train {family} --out DIR', then pass DIR)", file=sys.stderr)
        return 2
    kind = family or detected or "blendshapes"
    if kind == "blendshapes":
        from facewire.train.blendshapes.export import export
    else:
        from facewire.train.mesh.export import export  # type: ignore[no-redef]

        if args.speaker_norm_prior is not None or args.silence_reset is not None:
            print(f"facewire export: {args.checkpoint}: --speaker-norm-prior and "
                  f"--silence-reset are for blendshape models, not {kind}", file=sys.stderr)
            return 2

    try:
        argv = sys.argv[1:] if sys.argv[1:2] == ["export"] else [
            "export", *([family] if family else []), args.checkpoint, f"--out={args.out}",
            f"--fps={args.fps}",
            *([f"--name={args.name}"] if args.name else []),
            *([f"--speaker-norm-prior={args.speaker_norm_prior:g}"]
              if args.speaker_norm_prior is not None else []),
            *([f"--silence-reset={args.silence_reset:g}"]
              if args.silence_reset is not None else [])]
        prior = {} if args.speaker_norm_prior is None else {
            "speaker_norm_prior": args.speaker_norm_prior}
        if args.silence_reset is not None:
            prior["silence_reset_s"] = args.silence_reset
        card = export(args.checkpoint, args.out, args.name, args.fps, args.tol, argv=argv,
                      **prior)
    except (CardError, CheckpointError, RuntimeError, ValueError) as exc:
        print(f"facewire export: {exc}", file=sys.stderr)
        return 2
    import json

    c = json.loads(card.read_text())
    print(f"{card.with_suffix('.onnx')} ({c['onnx_bytes'] / 1e6:.2f} MB, {c['params']} params, "
          f"onnx-torch max diff {c['metrics']['onnx_vs_torch_max_abs']:.1e}) + {card.name}")
    return 0


def _export_emotion(args: argparse.Namespace) -> int:
    from facewire.train.emotion.export import FusionCheckpointError, export_run

    if args.speaker_norm_prior is not None or args.silence_reset is not None:
        print("facewire export emotion: --speaker-norm-prior and --silence-reset are for "
              "blendshape models", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if sys.argv[1:2] == ["export"] else [
        "export", "emotion", args.checkpoint, f"--out={args.out}",
        *([f"--name={args.name}"] if args.name else [])]
    try:
        card = export_run(args.checkpoint, args.out, args.name, argv=argv)
    except (FusionCheckpointError, FileNotFoundError) as exc:
        print(f"facewire export emotion: {exc}", file=sys.stderr)
        return 2
    print(f"{card.with_suffix('.onnx')} + {card.with_suffix('.npz').name} + {card.name}")
    return 0
