"""``facewire export CHECKPOINT --out DIR``: ONNX with explicit streaming state + model card."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained checkpoint to ONNX + model card")
    p.add_argument("checkpoint", help="best.pt / last.pt, or a run folder (uses best.pt); "
                   "or an exported card (.json) to re-export with another --speaker-norm-prior")
    p.add_argument("--out", required=True, help="folder for <name>.onnx and <name>.json")
    p.add_argument("--name", default=None, help="file stem (default facewire_<arch>_<features>)")
    p.add_argument("--fps", type=float, default=60.0, help="animation frame rate in the card")
    p.add_argument("--tol", type=float, default=1e-4, help="max |onnxruntime - torch|")
    p.add_argument("--speaker-norm-prior", type=float, default=None, metavar="FRAMES",
                   help="set the speaker normaliser's prior weight (frames; lower adapts to "
                        "a new voice sooner). It runs before the graph, so a card can be "
                        "re-exported with it and the ONNX file stays as it is")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from facewire.models.card import CardError
    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import CheckpointError
    from facewire.train.mesh.export import checkpoint_kind

    kind = checkpoint_kind(args.checkpoint)
    if kind is not None:  # S2L / S2D (landmarks, densify)
        from facewire.train.mesh.export import export  # noqa: F811

        if args.speaker_norm_prior is not None:
            print(f"facewire export: {args.checkpoint}: a {kind} checkpoint has no speaker "
                  "normaliser; --speaker-norm-prior is for blendshape models", file=sys.stderr)
            return 2

    try:
        argv = sys.argv[1:] if sys.argv[1:2] == ["export"] else [
            "export", args.checkpoint, f"--out={args.out}", f"--fps={args.fps}",
            *([f"--name={args.name}"] if args.name else []),
            *([f"--speaker-norm-prior={args.speaker_norm_prior:g}"]
              if args.speaker_norm_prior is not None else [])]
        prior = {} if args.speaker_norm_prior is None else {
            "speaker_norm_prior": args.speaker_norm_prior}
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
