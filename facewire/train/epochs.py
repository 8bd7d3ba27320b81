"""Epoch bookkeeping shared by the training loops: best/last checkpoints, resume, early
stopping and the wall-clock budget, so every model trains and resumes the same way."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

if TYPE_CHECKING:
    from facewire.train.runs import RunSettings


def _rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def _set_rng_state(rng: np.random.Generator, d: dict) -> None:
    rng.bit_generator.state = d


def shuffled_batches(rng: np.random.Generator, n: int, size: int, epoch: int, epochs: int,
                     quiet: bool = False) -> tqdm:
    """One epoch's item indices in shuffled batches behind a progress bar; drawn from the
    run's RNG, so a resumed run shuffles as the uninterrupted one would."""
    order = rng.permutation(n)
    batches = [order[i:i + size] for i in range(0, n, size)]
    return tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=quiet,
                leave=False)


def optimiser_step(opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor,
                   max_norm: float = 5.0) -> float:
    """One update with the gradient norm clipped (a rare long clip's spike cannot throw the
    recurrent weights off); returns the loss as a number."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)
    opt.step()
    return loss.item()


class EpochBook:
    """History, best state and patience of one run; writes ``best.pt`` and ``last.pt``."""

    def __init__(self, out: Path, net: torch.nn.Module, meta: dict[str, Any],
                 min_gain: float = 1e-7) -> None:
        self.out, self.meta, self.min_gain = out, meta, min_gain
        self.history: list[dict[str, float]] = []
        self.best_val, self.best_epoch, self.start_epoch, self.bad = math.inf, -1, 0, 0
        self.best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        self.t_start = time.monotonic()
        self.done_min = 0.0  # cumulative across resumes

    def resume(self, ck: dict[str, Any], net: torch.nn.Module, opt: torch.optim.Optimizer,
               rng: np.random.Generator) -> None:
        net.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        torch.set_rng_state(ck["torch_rng"])
        _set_rng_state(rng, ck["numpy_rng"])
        self.history = list(ck["history"])
        self.best_val, self.best_epoch = ck["best_val"], ck["best_epoch"]
        self.start_epoch, self.bad = ck["epoch"] + 1, ck["bad_epochs"]
        self.best_state = ck["best_state_dict"]
        self.done_min = self.history[-1]["minutes"] if self.history else 0.0

    def minutes(self) -> float:
        return self.done_min + (time.monotonic() - self.t_start) / 60

    def record(self, rec: dict[str, float], net: torch.nn.Module) -> bool:
        """Append an epoch's figures (``val_loss`` among them); True when it is the best."""
        rec["minutes"] = self.minutes()
        self.history.append(rec)
        improved = rec["val_loss"] < self.best_val - self.min_gain
        if improved:
            self.best_val, self.best_epoch, self.bad = rec["val_loss"], rec["epoch"], 0
            self.best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            self.bad += 1
        return improved

    def save(self, epoch: int, net: torch.nn.Module, opt: torch.optim.Optimizer,
             rng: np.random.Generator, extra: dict[str, Any] | None = None) -> None:
        """``extra`` goes into ``last.pt`` only (e.g. a learning-rate scheduler's state)."""
        common = {**self.meta, "epoch": epoch, "history": self.history,
                  "best_val": self.best_val, "best_epoch": self.best_epoch,
                  "bad_epochs": self.bad}
        torch.save({**common, "state_dict": self.best_state,
                    "best_state_dict": self.best_state}, self.out / "best.pt")
        torch.save({**common, "state_dict": {k: v.detach().cpu()
                                             for k, v in net.state_dict().items()},
                    "best_state_dict": self.best_state, "optimizer": opt.state_dict(),
                    "torch_rng": torch.get_rng_state(), "numpy_rng": _rng_state(rng),
                    **(extra or {})},
                   self.out / "last.pt")

    def finish_epoch(self, rec: dict[str, float], net: torch.nn.Module,
                     opt: torch.optim.Optimizer, rng: np.random.Generator,
                     settings: RunSettings,
                     extra: dict[str, Any] | None = None) -> bool:
        """Record, report (unless quiet) and checkpoint an epoch; True when training should
        stop. ``rec`` holds ``epoch``, ``val_loss`` and any other figures to print."""
        improved = self.record(rec, net)
        if not settings.quiet:
            figures = "  ".join(f"{k} {v:.5g}" for k, v in rec.items()
                                if k not in ("epoch", "minutes"))
            tqdm.write(f"epoch {rec['epoch']}: {figures}{'  *' if improved else ''}")
        self.save(int(rec["epoch"]) - 1, net, opt, rng, extra)
        return self.should_stop(settings.patience, settings.max_minutes, settings.quiet)

    def should_stop(self, patience: int, max_minutes: float | None, quiet: bool) -> bool:
        if self.bad >= patience:
            if not quiet:
                tqdm.write(f"early stop: no validation gain for {self.bad} epochs")
            return True
        if max_minutes is not None and (time.monotonic() - self.t_start) / 60 >= max_minutes:
            if not quiet:
                tqdm.write(f"time budget of {max_minutes} min reached")
            return True
        return False

    def summary(self, net: torch.nn.Module, device: torch.device) -> dict[str, Any]:
        return {"out": str(self.out), "best": str(self.out / "best.pt"),
                "best_epoch": self.best_epoch, "best_val": self.best_val,
                "epochs_run": len(self.history), "history": self.history,
                "params": sum(p.numel() for p in net.parameters()), "device": str(device)}
