"""Streaming networks -> ONNX with their state as graph inputs and outputs, and the check
that onnxruntime fed chunk by chunk reproduces torch on the whole sequence.

The blendshape networks and S2L share the interface this needs: ``forward(x)``,
``forward_stream(x, *state)``, ``state_spec()``, ``initial_state()`` and ``streaming``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

OPSET = 17
CHUNKS = (1, 7, 3, 50, 96)  # uneven chunk sizes, one frame among them


class StreamWrapper(torch.nn.Module):
    """Makes ``forward_stream`` the traced forward, so the state crosses the graph's edge."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net.forward_stream(x, *state)


def export_stream_onnx(net: Any, path: str | Path, probe: torch.Tensor, output: str,
                       opset: int = OPSET) -> dict[str, Any]:
    """Write ``features [1, n, F]`` -> ``output [1, n, D]`` (plus ``<state>_in/_out`` for a
    streaming net); return the card's ``io`` section."""
    net = net.eval().cpu()
    spec = net.state_spec()
    if net.streaming:
        names_in = ["features"] + [f"{n}_in" for n, _, _ in spec]
        names_out = [output] + [f"{n}_out" for n, _, _ in spec]
        module: torch.nn.Module = StreamWrapper(net).eval()
        args: tuple = (probe, *net.initial_state())
    else:
        names_in, names_out, module, args = ["features"], [output], net, (probe,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, input_names=names_in,
                          output_names=names_out, opset_version=opset,
                          dynamic_axes={"features": {1: "frames"}, output: {1: "frames"}})
    return {"input": "features", "output": output,
            "state": [{"name": f"{n}_in", "output": f"{n}_out", "shape": list(s), "fill": f}
                      for n, s, f in spec]}


def onnx_max_diff(net: Any, path: str | Path, io: dict[str, Any], x: torch.Tensor,
                  chunks: tuple[int, ...] = CHUNKS) -> tuple[float, int]:
    """Max |onnxruntime - torch(whole sequence)| and the frames compared: the whole
    sequence at once for an offline net, ``chunks`` with the state carried for a
    streaming one (causal, so the first frames must agree exactly)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = net.eval()(x).numpy()
    if not net.streaming:
        out = sess.run([io["output"]], {"features": x.numpy()})[0]
        return float(np.abs(out - ref).max()), x.shape[1]
    state = {s["name"]: np.full(s["shape"], s["fill"], np.float32) for s in io["state"]}
    outs, t = [], 0
    for c in chunks:
        res = sess.run(None, {"features": x[:, t:t + c].numpy(), **state})
        outs.append(res[0])
        state = {s["name"]: r for s, r in zip(io["state"], res[1:])}
        t += c
    return float(np.abs(np.concatenate(outs, 1) - ref[:, :t]).max()), t
