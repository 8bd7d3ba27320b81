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
    """The run-control fields every training config shares (recorded in its checkpoint).
    The ``help`` metadata is the flag's help: ``facewire train`` makes its flags from these
    fields (facewire/commands/config_flags.py)."""

    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate"})
    epochs: int = field(default=40, metadata={"help": "most epochs to run"})
    patience: int = field(default=6, metadata={"help": "early-stopping patience (epochs)"})
    max_minutes: float | None = field(default=None, metadata={
        "help": "wall-clock budget per invocation (minutes); stops after the epoch that "
                "passes it"})
    held_out: float = field(default=0.2, metadata={"help": "share of voices for validation"})
    seed: int = 0
    device: str = field(default="auto", metadata={"choices": ("auto", "cpu", "cuda")})
    threads: int = field(default=1, metadata={"help": "torch CPU threads"})
    resume: bool = field(default=False, metadata={"help": "continue from OUT/last.pt"})
    quiet: bool = False


@dataclass
class AudioRunSettings(RunSettings):
    """Run control plus the audio corpora and their features (blendshapes, landmarks)."""

    data: list[str] = field(default_factory=list, metadata={
        "required": True, "help": "corpus folder (facewire data synth); repeatable"})
    features: str = field(default="logmel", metadata={"choices": ("logmel", "wav2vec2")})
    wav2vec: str | None = field(default=None, metadata={
        "metavar": "DIR", "help": "local wav2vec 2.0 folder (implies --features wav2vec2)"})
    wav2vec_layer: int = -1

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
