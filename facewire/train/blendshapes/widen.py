"""Widen a trained CNN+GRU's recurrent layer without changing what it computes (Net2WiderNet).

Fine-tuning a larger network from a smaller trained one keeps what the small one learned
and adds capacity: each new GRU unit starts as a copy of an existing one, and every weight
that reads the hidden state splits its column between the unit and its copies, so the
widened network gives the same outputs as the original. A little noise on the copies'
incoming weights breaks their symmetry, so that training can make them diverge.
"""

from __future__ import annotations

from typing import Any

import torch

GRU_GATES = 3  # PyTorch's GRU stacks the r, z and n rows of each weight


def widen_gru_state(state: dict[str, torch.Tensor], new_hidden: int, noise: float = 1e-3,
                    seed: int = 0) -> dict[str, torch.Tensor]:
    """A copy of a ``CNNGRUNet`` state dict with ``gru`` widened to ``new_hidden`` units;
    ``out`` (and ``phone_head`` if present) read the wider state. ``noise`` is relative to
    each weight matrix's standard deviation (0 gives an exact copy of the function)."""
    old_hidden = state["gru.weight_hh_l0"].shape[1]
    if new_hidden < old_hidden:
        raise ValueError(f"cannot narrow a GRU from {old_hidden} to {new_hidden} units")
    gen = torch.Generator().manual_seed(seed)
    extra = torch.randint(0, old_hidden, (new_hidden - old_hidden,), generator=gen)
    source = torch.cat([torch.arange(old_hidden), extra])  # new unit k copies old unit source[k]
    share = torch.bincount(source, minlength=old_hidden).float()[source]  # copies per unit
    rows = torch.cat([g * old_hidden + source for g in range(GRU_GATES)])
    out = dict(state)
    for name in ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0"):
        w = state[name][rows].clone()
        if name == "gru.weight_hh_l0":
            w = w[:, source] / share
        if w.dim() == 2 and noise > 0:  # only the copies' incoming weights move
            copies = torch.cat([g * new_hidden + torch.arange(old_hidden, new_hidden)
                                for g in range(GRU_GATES)])
            w[copies] += noise * w.std() * torch.randn(w[copies].shape, generator=gen)
        out[name] = w
    for head in ("out", "phone_head", "voice_head"):
        key = f"{head}.weight"
        if key in state:
            out[key] = state[key][:, source] / share
    return out


def widen_checkpoint(ck: dict[str, Any], new_hidden: int, seed: int = 0) -> dict[str, Any]:
    """``ck`` (a cnn_gru checkpoint or card read-back) as a ``new_hidden``-unit network."""
    if ck["arch"] != "cnn_gru":
        raise ValueError(f"only cnn_gru networks can be widened, not {ck['arch']}")
    wide = dict(ck)
    wide["state_dict"] = widen_gru_state(ck["state_dict"], new_hidden, seed=seed)
    wide["net_config"] = {**ck["net_config"], "hidden": new_hidden}
    return wide
