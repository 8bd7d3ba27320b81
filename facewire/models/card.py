"""Model cards: the JSON that travels with every exported ONNX model.

The runtime trusts nothing but the card and the ONNX graph: the card says which features the
model reads (kind, rate, dimension, the log-mel config), the time of its frames, its
lookahead and total algorithmic delay, the names of its outputs, the streaming state tensors
(names, shapes, initial fill) and where the model came from (training data, metrics and the
commands that rebuild it). No torch here: the runtime imports this module.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CARD_FORMAT = "facewire-model-card"
CARD_VERSION = 1
REQUIRED = ("format", "version", "architecture", "streaming", "onnx", "features", "fps",
            "lookahead_frames", "outputs", "io")


class CardError(ValueError):
    """A model card is missing or malformed; the message names the file and the field."""


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def validate_card(card: Any, path: str | Path = "<card>") -> dict[str, Any]:
    """Check the fields the runtime relies on; return the card."""
    if not isinstance(card, dict):
        raise CardError(f"{path}: a model card is a JSON object")
    if card.get("format") != CARD_FORMAT:
        raise CardError(f"{path}: not a facewire model card (format {card.get('format')!r})")
    missing = [k for k in REQUIRED if k not in card]
    if missing:
        raise CardError(f"{path}: model card lacks {', '.join(missing)} (re-export the model "
                        "with 'facewire export')")
    if int(card["version"]) > CARD_VERSION:
        raise CardError(f"{path}: card version {card['version']} is newer than this facewire "
                        f"reads ({CARD_VERSION}); upgrade facewire")
    feats = card["features"]
    for k in ("kind", "rate", "dim", "t0", "pad_value"):
        if k not in feats:
            raise CardError(f"{path}: features lacks {k!r}")
    io = card["io"]
    if "input" not in io or "output" not in io or not isinstance(io.get("state", []), list):
        raise CardError(f"{path}: io needs input, output and a state list")
    for s in io.get("state", []):
        if not {"name", "output", "shape", "fill"} <= set(s):
            raise CardError(f"{path}: state entry {s} needs name, output, shape, fill")
    return card


def read_card(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CardError(f"{path}: model card not found (export writes <name>.onnx and "
                        "<name>.json side by side)")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: corrupt model card ({exc}); re-export the model") from exc
    return validate_card(card, path)


def write_card(path: str | Path, card: dict[str, Any]) -> Path:
    path = Path(path)
    validate_card(card, path)
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path
