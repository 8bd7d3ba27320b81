"""``facewire export emotion RUN``: the fusion module of a training run (its ``fusion.pt``)
exported again, e.g. under another name or into the shipped weights folder. Training
exports once already; this is the same export from the saved weights, so the two verbs
work alike for every family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facewire.train.emotion.train import EmotionTrainConfig, build


class FusionCheckpointError(ValueError):
    """The run folder has no usable fusion checkpoint; the message names it and the fix."""


def read_run(run: str | Path) -> dict[str, Any]:
    """``fusion.pt`` of a run folder (or the file itself)."""
    import torch

    p = Path(run)
    p = p / "fusion.pt" if p.is_dir() else p
    if not p.exists():
        raise FusionCheckpointError(f"{p}: no fusion checkpoint (train one with 'facewire "
                                    "train emotion --out DIR', then pass DIR)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise FusionCheckpointError(f"{p}: corrupt or unreadable checkpoint ({exc})") from exc
    if not isinstance(ck, dict) or not {"state", "config"} <= set(ck):
        raise FusionCheckpointError(f"{p}: not a facewire emotion (fusion) checkpoint")
    ck["path"] = p
    return ck


def export_run(run: str | Path, out: str | Path, name: str | None = None,
               argv: list[str] | None = None) -> Path:
    """Export a run's fusion module into ``out``; returns the card path. The card keeps the
    run's training record and command, and adds the export command."""
    ck = read_run(run)
    cfg = EmotionTrainConfig(**ck["config"])
    _, geom, model = build(cfg)
    try:
        model.load_state_dict(ck["state"])
    except RuntimeError as exc:
        raise FusionCheckpointError(f"{ck['path']}: weights do not fit the config's model "
                                    f"({str(exc).splitlines()[0]})") from exc
    from facewire.emotion.export import export_fusion

    trained = ck["path"].parent / f"{cfg.name}.json"
    record = json.loads(trained.read_text()) if trained.exists() else {}
    name = name or cfg.name
    export_fusion(model, geom, out, name, config=ck["config"],
                  training=record.get("training", {}))
    card_path = Path(out) / f"{name}.json"
    card = json.loads(card_path.read_text())
    card["command"] = {**record.get("command", {}),
                       "export": "facewire " + " ".join(argv) if argv else None}
    card_path.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
    return card_path
