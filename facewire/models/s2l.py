"""Speech-to-landmarks (S2L, seed 001): audio features -> 68 x 3 landmark displacements.

The paper's model is wav2vec 2.0 + a 3-layer bidirectional LSTM (hidden 64) + a fully
connected layer, run on whole utterances. ``s2l`` is that (features are log-mel or wav2vec
frames from :mod:`facewire.train.data.dataset`). A bidirectional LSTM reads the future without
bound, so it cannot run live; ``s2l_causal`` is the streaming twin: the same stack with
unidirectional LSTMs and a *label delay* of ``lookahead`` feature frames (output ``i``
describes input frame ``i - lookahead``), so it sees exactly that much future audio and no
more. Its state (h, c of every layer) is explicit, so the ONNX export streams in any chunk
size. Both run at the feature rate; the runtime resamples to 60 fps, as for blendshapes.

The interface (``n_feats``, ``lookahead``, ``pad_value``, ``streaming``, ``state_spec``,
``forward_stream``) is the blendshape networks', so one runtime serves both; outputs are
displacements in the rig's units, flattened to ``[B, T, 204]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

N_POINTS = 68
ARCHS = ("s2l", "s2l_causal")


class S2LNet(nn.Module):
    """LSTM stack + linear read-out; ``bidirectional`` picks the offline model."""

    def __init__(self, n_feats: int, hidden: int = 64, layers: int = 3,
                 bidirectional: bool = True, lookahead: int = 0, pad_value: float = 0.0) -> None:
        super().__init__()
        self.n_feats, self.hidden, self.layers = int(n_feats), int(hidden), int(layers)
        self.bidirectional = bool(bidirectional)
        self.streaming = not self.bidirectional
        self.lookahead = int(lookahead) if self.streaming else 0
        self.pad_value = float(pad_value)
        self.arch = "s2l" if self.bidirectional else "s2l_causal"
        self.register_buffer("feat_mean", torch.zeros(n_feats))
        self.register_buffer("feat_std", torch.ones(n_feats))
        self.lstm = nn.LSTM(n_feats, hidden, layers, batch_first=True,
                            bidirectional=self.bidirectional)
        self.out = nn.Linear(hidden * (2 if self.bidirectional else 1), N_POINTS * 3)

    def config(self) -> dict[str, Any]:
        return {"n_feats": self.n_feats, "hidden": self.hidden, "layers": self.layers,
                "bidirectional": self.bidirectional, "lookahead": self.lookahead,
                "pad_value": self.pad_value}

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Feature statistics live in the network so the ONNX graph carries them."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, 204); output i describes input frame i - lookahead."""
        y, _ = self.lstm((x - self.feat_mean) / self.feat_std)
        return self.out(y)

    # -- streaming (causal only) ------------------------------------------------------------
    def state_spec(self) -> list[tuple[str, tuple[int, ...], float]]:
        if not self.streaming:
            return []
        shape = (self.layers, 1, self.hidden)
        return [("lstm_h", shape, 0.0), ("lstm_c", shape, 0.0)]

    def initial_state(self) -> list[torch.Tensor]:
        return [torch.full(shape, fill) for _, shape, fill in self.state_spec()]

    def forward_stream(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(1, n, F) chunk and (h, c) -> (1, n, 204) and the next (h, c)."""
        if not self.streaming:
            raise NotImplementedError("s2l (bidirectional) needs the whole utterance; "
                                      "use s2l_causal to stream")
        h, c = state
        y, (h2, c2) = self.lstm((x - self.feat_mean) / self.feat_std, (h, c))
        return self.out(y), h2, c2


def build(arch: str, **config: Any) -> S2LNet:
    """``s2l`` (bidirectional, offline) or ``s2l_causal`` (streaming) from a config dict."""
    if arch not in ARCHS:
        raise ValueError(f"unknown S2L architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    config = dict(config)
    config["bidirectional"] = arch == "s2l"
    return S2LNet(**config)


def as_points(y: torch.Tensor) -> torch.Tensor:
    """(..., 204) -> (..., 68, 3)."""
    return y.reshape(*y.shape[:-1], N_POINTS, 3)
