"""A shipped model (card + ONNX) back into torch weights, so ``--init-from`` can fine-tune the
default model itself: users train on their own takes without the run folder that made it.

The exporter names most weights after the network's parameters. The rest are
recovered from the graph: each ONNX GRU node gives its module's weights with the gates put
back in torch's order (ONNX keeps z, r, h; torch r, z, n), and a linear layer's weight is the
one unnamed initializer of its transposed shape (the MatMul operand). Whatever is recovered
must reproduce onnxruntime's output, or the recovery fails: no guessed weights go into a run.
Training-only heads (phone read-out, voice adversary) are not in the graph and start afresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from facewire.models.blendshape_nets import BlendshapeNet, build
from facewire.models.card import CardError, read_card
from facewire.train.onnx_stream import CHUNKS, onnx_max_diff
from facewire.train.runs import CheckpointError

# a streaming net is exported through a wrapper that holds it as ``net``; an offline one bare
PREFIXES = ("net.", "")
TOLERANCE = 1e-4


def _torch_gates(onnx_rows: np.ndarray) -> np.ndarray:
    """ONNX gate blocks z, r, h along the first axis -> torch's r, z, n."""
    z, r, h = np.split(onnx_rows, 3, axis=0)
    return np.concatenate([r, z, h], axis=0)


def _gru_weights(model: Any, net: nn.Module, inits: dict[str, np.ndarray],
                 used: set[str]) -> dict[str, np.ndarray]:
    """The weights of every nn.GRU in ``net`` from the graph's GRU nodes, in order."""
    grus = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.GRU)]
    nodes = [n for n in model.graph.node if n.op_type == "GRU"]
    if len(grus) != len(nodes):
        raise CheckpointError(f"the graph has {len(nodes)} GRU nodes, the network {len(grus)}")
    out: dict[str, np.ndarray] = {}
    for (name, gru), node in zip(grus, nodes):
        w, r, b = (inits[i] for i in node.input[1:4])
        used.update(node.input[1:4])
        hidden = gru.hidden_size
        for d, suffix in enumerate(["_l0", "_l0_reverse"][: w.shape[0]]):
            out[f"{name}.weight_ih{suffix}"] = _torch_gates(w[d])
            out[f"{name}.weight_hh{suffix}"] = _torch_gates(r[d])
            out[f"{name}.bias_ih{suffix}"] = _torch_gates(b[d, : 3 * hidden])
            out[f"{name}.bias_hh{suffix}"] = _torch_gates(b[d, 3 * hidden:])
    return out


def recover_state_dict(onnx_path: str | Path, net: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``net`` (built with the card's config) read from its ONNX graph."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    own = net.state_dict()
    heads = getattr(net, "TRAINING_HEADS", ())
    wanted = {k: v for k, v in own.items() if k.split(".", 1)[0] not in heads}
    named = {k: p + k for k in wanted for p in PREFIXES if p + k in inits}
    found = {k: inits[n] for k, n in named.items()}
    used = set(named.values())
    found.update(_gru_weights(model, net, inits, used))
    for key in sorted(set(wanted) - set(found)):
        shape = tuple(wanted[key].shape)
        fits = [n for n, a in inits.items() if n not in used and a.shape == shape[::-1]]
        if len(fits) != 1:
            raise CheckpointError(f"{onnx_path}: cannot tell which graph weight is {key} "
                                  f"{list(shape)} ({len(fits)} candidates)")
        found[key] = inits[fits[0]].T
        used.add(fits[0])
    for key, arr in found.items():
        if tuple(arr.shape) != tuple(wanted[key].shape):
            raise CheckpointError(f"{onnx_path}: {key} is {list(arr.shape)} in the graph, "
                                  f"{list(wanted[key].shape)} in the network")
    return {k: torch.from_numpy(np.array(v)).to(wanted[k].dtype)
            for k, v in found.items()}


def checkpoint_from_card(card_path: str | Path) -> dict[str, Any]:
    """A blendshape checkpoint (the fields ``--init-from`` reads) from an exported model.

    Raises CheckpointError naming the file if the graph's weights cannot be matched to the
    network, or if the recovered network does not reproduce the graph within TOLERANCE."""
    from facewire.train.blendshapes.checkpoint import CKPT_FORMAT, probe_input

    card_path = Path(card_path)
    try:
        card = read_card(card_path)
    except CardError as exc:
        raise CheckpointError(str(exc)) from exc
    onnx_path = card_path.parent / card["onnx"]
    if not onnx_path.exists():
        raise CheckpointError(f"{onnx_path}: the card's ONNX file is missing; re-export it")
    config = card.get("arch_config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{card_path}: the card has no arch_config (exported before "
                              "cards recorded it); fine-tune from its run's best.pt instead")
    net: BlendshapeNet = build(card["architecture"], **config)
    state = recover_state_dict(onnx_path, net)
    net.load_state_dict(state, strict=False)
    diff, _ = onnx_max_diff(net, onnx_path, card["io"], probe_input(net.eval(), 157, seed=1),
                            CHUNKS if net.streaming else ())
    if not diff <= TOLERANCE:
        raise CheckpointError(f"{card_path}: weights read back from {onnx_path.name} differ "
                              f"from the graph by {diff:.2e}; fine-tune from its run's best.pt")
    return {"format": CKPT_FORMAT, "version": 1, "arch": card["architecture"],
            "net_config": net.config(), "state_dict": state, "features": card["features"],
            "path": str(card_path), "command": (card.get("command") or {}).get("train"),
            "recovered_max_diff": diff}
