"""Evaluate the landmarks (S2L) and densify (S2D) networks on held-out voices and held-out
identities (``facewire eval landmarks|densify``, or ``facewire eval-mesh``).

Every clip of the test corpus (voices no model trained on) is given a test identity
(``split_identities``' held-out seed stream, clip ``i`` -> identity ``i % n``); its ground
truth is the clip's teacher curves posed on that identity. Rows:

* S2L landmarks from audio (LE over lip landmarks 48-67, DE over all 68, DAE);
* S2D on the true landmark displacements (the decoder alone) and on S2L's output (the full
  chain, the paper's "Dense" column);
* two references: a face that never moves, and the rig's generic expression shapes driven
  by the *true* curves (what ignoring the identity costs).

Dense LE uses the mesh vertices whose nearest landmark is a lip landmark within 8 mm.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facewire.train.mesh.metrics import PAPER_TABLE1, all_metrics

LIP_RADIUS_MM = 8.0
LIPS68 = np.arange(48, 68)


def _accumulate(acc: dict[str, list[float]], m: dict[str, float], w: int) -> None:
    for k, v in m.items():
        if np.isfinite(v):
            acc.setdefault(k, []).append(v * w)
            acc.setdefault(k + "_w", []).append(w)


def _finish(acc: dict[str, list[float]]) -> dict[str, float]:
    return {k: float(sum(acc[k]) / max(sum(acc[k + "_w"]), 1)) for k in ("LE", "DE", "DAE")
            if k in acc}


def evaluate(landmark_model: str | Path, dense_model: str | Path, data: Sequence[str],
             n_identities: int = 10, max_clips: int | None = None, rig_path: str | None = None,
             progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from facewire.models.logmel import logmel
    from facewire.models.mesh_runtime import DensePredictor, LandmarkPredictor
    from facewire.rig.rig import Rig, default_rig_path
    from facewire.train.data.dataset import load_sources
    from facewire.train.mesh.data import (
        DenseFrames,
        IdentitySet,
        landmark_targets,
        lip_vertices,
        split_identities,
    )

    rig = Rig.load(rig_path or default_rig_path())
    s2l = LandmarkPredictor(landmark_model, "cpu")
    s2d = DensePredictor(dense_model, "cpu")
    s2d.check_rig(rig.n_vertices)
    region = slice(s2d.start, s2d.stop)
    ids = IdentitySet.build(rig, split_identities(0, n_identities,
                                                  rig.identity_basis.shape[0])[1],
                            s2d.card.get("region_name", "narrow_face"))
    poser = DenseFrames(ids)
    offsets = ids.identity_offsets()
    shapes = [ids.landmark_shapes(i) for i in range(len(ids))]
    lips_dense = lip_vertices(rig.neutral[region], rig.landmarks(rig.neutral),
                              LIP_RADIUS_MM / rig.mm)
    mm = rig.mm
    utts = load_sources(data)
    if max_clips and len(utts) > max_clips:  # evenly spread, so every voice can appear
        utts = [utts[i] for i in np.linspace(0, len(utts) - 1, max_clips).round().astype(int)]
    if s2l.logmel is None:
        raise ValueError("eval-mesh computes log-mel features; this S2L model reads "
                         f"{s2l.card['features']['kind']}")
    acc: dict[str, dict[str, list[float]]] = {}
    it = tqdm(list(enumerate(utts)), desc="clips", unit="clip", disable=not progress)
    for i, u in it:
        j = i % len(ids)
        pred_lm = s2l.predict(logmel(u.audio, s2l.logmel))
        true_lm = landmark_targets(u.curves, shapes[j])
        n = min(len(pred_lm), len(true_lm))
        pred_lm, true_lm = pred_lm[:n], true_lm[:n]
        _accumulate(acc.setdefault("S2L (audio -> landmarks)", {}),
                    all_metrics(pred_lm * mm, true_lm * mm, LIPS68), n)
        _accumulate(acc.setdefault("static face (landmarks)", {}),
                    all_metrics(0 * true_lm, true_lm * mm, LIPS68), n)
        _, true_dense = poser.pose(u.curves[:n], np.full(n, j))
        s2d.set_identity(offsets[j])
        rows = {"S2D on true landmarks": s2d.region(true_lm),
                "S2L + S2D (audio -> mesh)": s2d.region(pred_lm),
                "generic rig shapes, true curves": poser.generic(u.curves[:n]),
                "static face (dense)": np.zeros_like(true_dense)}
        for name, pred in rows.items():
            _accumulate(acc.setdefault(name, {}),
                        all_metrics(pred * mm, true_dense * mm, lips_dense), n)
    results = {k: _finish(v) for k, v in acc.items()}
    return {"results": results, "clips": len(utts), "voices": len({u.voice for u in utts}),
            "identities": {"n": len(ids), "split": "held-out seed stream (2000)"},
            "lip_vertices": int(len(lips_dense)), "data": list(data),
            "landmark_model": str(s2l.path), "dense_model": str(s2d.path)}


def format_table(res: dict[str, Any]) -> str:
    lines = [f"{'':36s} {'LE mm':>8s} {'DE mm':>8s} {'DAE rad':>8s}"]
    for name, m in res["results"].items():
        lines.append(f"{name:36s} {m.get('LE', float('nan')):8.2f} "
                     f"{m.get('DE', float('nan')):8.2f} {m.get('DAE', float('nan')):8.3f}")
    lines.append("seed 001 Table 1 (VOCASET, real 4D scans; not comparable data):")
    for name, cols in PAPER_TABLE1.items():
        for part, (le, de, dae) in cols.items():
            lines.append(f"  {name + ' ' + part:34s} {le:8.2f} {de:8.2f} {dae:8.3f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="facewire eval-mesh", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser, without: str | None = None) -> None:
    """The flags; ``without`` leaves out the model flag of one network (``--landmarks`` or
    ``--densify``) for a command that names that network's model otherwise."""
    if without != "landmarks":
        ap.add_argument("--landmarks", default=None, help="landmarks (S2L) model (default: "
                        "bundled causal)")
    if without != "densify":
        ap.add_argument("--densify", default=None, help="densify (S2D) model (default: "
                        "bundled)")
    ap.add_argument("--data", action="append", required=True,
                    help="corpus with teacher curves, voices unseen in training")
    ap.add_argument("--identities", type=int, default=10, help="held-out test identities")
    ap.add_argument("--max-clips", type=int, default=None,
                    help="evaluate this many clips, evenly spread over the corpus")
    ap.add_argument("--rig", default=None)
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace, command: str = "facewire eval-mesh") -> int:
    from facewire.models.mesh_runtime import default_dense_model, default_landmark_model
    from facewire.models.runtime import ModelError
    from facewire.train.data.dataset import DatasetError

    try:
        res = evaluate(args.landmarks or default_landmark_model(),
                       args.densify or default_dense_model(), args.data, args.identities,
                       args.max_clips, args.rig, not args.quiet)
    except (ModelError, DatasetError, FileNotFoundError, ValueError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    print(f"{res['clips']} clips, {res['voices']} voices, {res['identities']['n']} held-out "
          f"identities")
    print(format_table(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
