"""The start of every training run: seeds, device, run folder, the command that made it,
and checkpoint reading with errors that name the file and the fix."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facewire.train.options import option


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt or not ours; the message names the file and the fix."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device (use --device cpu or auto)")
    return torch.device(device)


def read_checkpoint(path: str | Path, fmt: str, what: str, train_cmd: str) -> dict[str, Any]:
    """A checkpoint of format ``fmt`` (a run folder means its best.pt); ``what`` names the
    kind in errors and ``train_cmd`` is the command that makes one."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found (train one with 'facewire "
                              f"{train_cmd} --out DIR', then pass DIR/best.pt)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}); retrain or restore it") from exc
    if not isinstance(ck, dict) or ck.get("format") != fmt:
        raise CheckpointError(f"{path}: not a facewire {what} checkpoint")
    ck["path"] = str(path)
    return ck


@dataclass
class RunSettings:
    """The run-control fields every training config shares (recorded in its checkpoint);
    each option's help is its flag's help in ``facewire train``."""

    lr: float = option(1e-3, "Adam learning rate")
    epochs: int = option(40, "most epochs to run")
    patience: int = option(6, "early-stopping patience (epochs)")
    max_minutes: float | None = option(None, "wall-clock budget per invocation (minutes)")
    held_out: float = option(0.2, "share of voices for validation")
    seed: int = option(0, "seed of torch and numpy (same seed, machine, threads: same run)")
    device: str = option("auto", "where to train", choices=("auto", "cpu", "cuda"))
    threads: int = option(1, "torch CPU threads")
    resume: bool = option(False, "continue from OUT/last.pt")
    quiet: bool = option(False, "no progress bars or per-epoch lines")


@dataclass
class AudioRunSettings(RunSettings):
    """Run control plus the audio corpora and their features (blendshapes, landmarks)."""

    data: list[str] = option([], "corpus folder with teacher curves (facewire data synth); "
                             "repeatable", required=True)
    features: str = option("logmel", "audio features", choices=("logmel", "wav2vec2"))
    wav2vec: str | None = option(None, "local wav2vec 2.0 folder (implies --features "
                                 "wav2vec2)", metavar="DIR")
    wav2vec_layer: int = option(-1, "wav2vec 2.0 hidden layer to read (-1: the output)")

    def __post_init__(self) -> None:
        if self.wav2vec:  # a local wav2vec 2.0 folder implies its features
            self.features = "wav2vec2"


@dataclass
class RunStart:
    """What every training loop sets up before it loads data."""

    out: Path
    device: torch.device
    rng: np.random.Generator
    command: str  # the command line that started the run (kept across --resume)
    resume: dict[str, Any] | None  # last.pt when resuming
    resumed: list[str] = field(default_factory=list)  # the --resume command lines, in order


def start_run(out: str | Path, settings: RunSettings, load: Any,
              argv: Sequence[str] | None = None) -> RunStart:
    """Seed torch and numpy, pick the device, make the run folder; with ``settings.resume``
    read ``out/last.pt`` through ``load`` (the loop's own checkpoint reader)."""
    torch.set_num_threads(max(1, settings.threads))
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    dev = resolve_device(settings.device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    command = "facewire " + " ".join(shlex.quote(a) for a in (argv if argv is not None
                                                              else sys.argv[1:]))
    resume_ck, resumed = None, []
    if settings.resume:
        if not (out / "last.pt").exists():
            raise CheckpointError(f"{out / 'last.pt'}: nothing to resume (drop --resume)")
        resume_ck = load(out / "last.pt")
        resumed = [*resume_ck.get("resumed", []), command]
        command = resume_ck.get("command", command)
    return RunStart(out, dev, rng, command, resume_ck, resumed)
