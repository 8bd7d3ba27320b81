"""Speech-to-blendshape networks (torch, training side): ``ff``, ``s2s`` and ``cnn_gru``.

All three map feature frames (log-mel or wav2vec, one row per feature frame) to ARKit-52
weights *at the feature frame rate*; :mod:`facewire.models.framerate` then resamples to the
animation rate, so one network serves 60 and 30 fps alike.

The streaming networks (``ff``, ``cnn_gru``) are strictly causal over their input: output
``i`` depends on input frames ``<= i`` only. Their lookahead is a *label delay*: output ``i``
is trained to describe feature frame ``i - lookahead``, so the network sees ``lookahead``
frames of future audio relative to the face it draws, and no more. Left context before the
stream start is the features of silence (``pad_value``, e.g. ``log(floor)`` for log-mel),
which the streaming state is initialised to, so a whole-sequence ``forward`` and
``forward_stream`` chunk by chunk give the same numbers.

* ``ff`` (Korzun et al., seed 000): a GRU encodes a window of ``window`` feature frames ending
  at the current frame; an MLP maps its last state to the weights. State: the window buffer.
* ``s2s`` (seed 000): bidirectional GRU encoder, GRU decoder over the encoder states,
  dot-product encoder-decoder attention, MLP. It needs the whole utterance: offline only.
  The decoder is not autoregressive (it reads the encoder states, not its own previous
  outputs) so that it trains in parallel and exports with dynamic length.
* ``cnn_gru`` (Pham et al., seed 002): convolutions over frequency (per frame, strided by 2),
  then causal convolutions over time, then a GRU and a linear read-out. State: a buffer of the
  last ``receptive - 1`` raw input frames (the time convolutions' context) and the GRU state.
  The time convolutions keep stride 1 so the output stays at the feature rate.

``phone_classes`` > 0 (cnn_gru) adds a training-only read-out from the GRU state to ARPAbet
phone logits: multi-task phone recognition makes the encoder carry phonetic (speaker-free)
information, in the spirit of phonetic-posteriorgram lip sync. Inference never runs it, so
the ONNX export and the streaming state are unchanged. ``voice_classes`` > 0 likewise adds a
training-only voice classifier behind a gradient-reversal layer (domain-adversarial training,
Ganin & Lempitsky 2015): the classifier learns to tell the training voices apart, and the
reversed gradient teaches the encoder to make that hard, i.e. to drop what identifies the
voice.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

ARCHS = ("ff", "s2s", "cnn_gru")


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; the gradient times -1 backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return -grad


class BlendshapeNet(nn.Module):
    """Common parts: input normalisation, the output subset scattered into ARKit-52, clipping.

    ``outputs`` are the curves the network predicts (e.g. the lower face); the rest of the 52
    stay 0. Weights are clipped to [0, 1] in eval mode only, so training keeps gradients.
    """

    arch = "base"
    streaming = True
    TRAINING_HEADS = ("phone_head", "voice_head")  # read-outs inference never runs

    def inference_params(self) -> int:
        """Parameters of the inference graph (training-only heads left out)."""
        return int(sum(p.numel() for n, p in self.named_parameters()
                       if n.split(".", 1)[0] not in self.TRAINING_HEADS))

    def __init__(self, n_feats: int, outputs: tuple[str, ...] = ARKIT_52, lookahead: int = 0,
                 pad_value: float = 0.0, seal: bool = False) -> None:
        super().__init__()
        unknown = [n for n in outputs if n not in ARKIT_INDEX]
        if unknown:
            raise ValueError(f"unknown ARKit curve names: {unknown}")
        self.n_feats = int(n_feats)
        self.outputs = tuple(outputs)
        self.lookahead = int(lookahead)
        self.pad_value = float(pad_value)
        self.register_buffer("feat_mean", torch.zeros(n_feats))
        self.register_buffer("feat_std", torch.ones(n_feats))
        scatter = torch.zeros(len(outputs), len(ARKIT_52))
        for i, name in enumerate(outputs):
            scatter[i, ARKIT_INDEX[name]] = 1.0
        self.register_buffer("scatter", scatter)
        # mouthClose = sigmoid(seal logit) * jawOpen: ARKit's "lips together whatever the jaw
        # does" as structure, so closing the lips does not depend on predicting the jaw's size
        self.seal = bool(seal) and "mouthClose" in outputs and "jawOpen" in outputs
        self._close = self.outputs.index("mouthClose") if self.seal else -1
        self._jaw = self.outputs.index("jawOpen") if self.seal else -1
        if self.seal:
            onehot = torch.zeros(len(outputs))
            onehot[self._close] = 1.0
            self.register_buffer("seal_onehot", onehot)

    # -- helpers -------------------------------------------------------------------------
    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store feature statistics in the network so the ONNX export carries them."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feat_mean) / self.feat_std

    def _finish(self, y: torch.Tensor) -> torch.Tensor:
        """Subset -> 52 curves; clip to the valid range at inference."""
        if self.seal:
            # kept for the training loop's seal loss (the logit gets almost no gradient
            # through mouthClose when the jaw is nearly shut, i.e. exactly on /p b m/)
            self.last_seal_logit = y[..., self._close]
            close = torch.sigmoid(y[..., self._close]) * y[..., self._jaw].clamp_min(0.0)
            y = y * (1.0 - self.seal_onehot) + close.unsqueeze(-1) * self.seal_onehot
        y = y @ self.scatter
        return y if self.training else y.clamp(0.0, 1.0)

    def config(self) -> dict[str, Any]:
        """Constructor arguments: enough to rebuild the network from a checkpoint."""
        return {"n_feats": self.n_feats, "outputs": list(self.outputs),
                "lookahead": self.lookahead, "pad_value": self.pad_value, "seal": self.seal}

    # -- streaming interface ---------------------------------------------------------------
    def state_spec(self) -> list[tuple[str, tuple[int, ...], float]]:
        """(name, shape, fill) of each state tensor for batch 1; [] for offline models."""
        return []

    def initial_state(self) -> list[torch.Tensor]:
        """Batch-1 state at stream start: the left context is silence, the GRU at rest."""
        return [torch.full(shape, fill) for _, shape, fill in self.state_spec()]

    def forward_stream(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(1, n, F) chunk and state -> (1, n, 52) and the next state."""
        raise NotImplementedError(f"{self.arch} is an offline model (needs the whole utterance)")


class FFNet(BlendshapeNet):
    """Window GRU encoder + MLP (seed 000's FeedForward model)."""

    arch = "ff"

    def __init__(self, n_feats: int, outputs: tuple[str, ...] = ARKIT_52, lookahead: int = 2,
                 pad_value: float = 0.0, window: int = 16, hidden: int = 96,
                 mlp: int = 128, seal: bool = False) -> None:
        super().__init__(n_feats, outputs, lookahead, pad_value, seal)
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window, self.hidden, self.mlp_width = int(window), int(hidden), int(mlp)
        self.gru = nn.GRU(n_feats, hidden, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(hidden, mlp), nn.ReLU(), nn.Linear(mlp, len(outputs)))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "window": self.window, "hidden": self.hidden,
                "mlp": self.mlp_width}

    def _windows(self, xp: torch.Tensor, n: int) -> torch.Tensor:
        """(B, n + W - 1, F) -> (B * n, W, F): the window ending at each of the n frames."""
        idx = torch.arange(n).unsqueeze(1) + torch.arange(self.window).unsqueeze(0)
        win = xp[:, idx]  # (B, n, W, F)
        return win.reshape(-1, self.window, xp.shape[-1])

    def _run(self, xp: torch.Tensor, n: int) -> torch.Tensor:
        b = xp.shape[0]
        _, h = self.gru(self._norm(self._windows(xp, n)))
        return self._finish(self.mlp(h[-1]).reshape(b, n, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, 52); output i describes input frame i - lookahead."""
        pad = x.new_full((x.shape[0], self.window - 1, x.shape[2]), self.pad_value)
        return self._run(torch.cat([pad, x], 1), x.shape[1])

    def state_spec(self) -> list[tuple[str, tuple[int, ...], float]]:
        return [("window", (1, self.window - 1, self.n_feats), self.pad_value)]

    def forward_stream(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (buf,) = state
        xp = torch.cat([buf, x], 1)
        y = self._run(xp, x.shape[1])
        return y, xp[:, xp.shape[1] - (self.window - 1):]


class S2SNet(BlendshapeNet):
    """BiGRU encoder + GRU decoder with dot-product attention (seed 000's Seq2seq); offline."""

    arch = "s2s"
    streaming = False

    def __init__(self, n_feats: int, outputs: tuple[str, ...] = ARKIT_52, lookahead: int = 0,
                 pad_value: float = 0.0, hidden: int = 96, mlp: int = 128,
                 seal: bool = False) -> None:
        super().__init__(n_feats, outputs, 0, pad_value, seal)
        self.hidden, self.mlp_width = int(hidden), int(mlp)
        self.encoder = nn.GRU(n_feats, hidden, batch_first=True, bidirectional=True)
        self.decoder = nn.GRU(2 * hidden, hidden, batch_first=True)
        self.query = nn.Linear(hidden, 2 * hidden, bias=False)
        self.mlp = nn.Sequential(nn.Linear(3 * hidden, mlp), nn.ReLU(),
                                 nn.Linear(mlp, len(outputs)))

    def config(self) -> dict[str, Any]:
        cfg = {**super().config(), "hidden": self.hidden, "mlp": self.mlp_width}
        cfg.pop("lookahead")
        return cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc, _ = self.encoder(self._norm(x))  # (B, T, 2H)
        dec, _ = self.decoder(enc)  # (B, T, H)
        scores = self.query(dec) @ enc.transpose(1, 2) / math.sqrt(enc.shape[-1])
        ctx = torch.softmax(scores, dim=-1) @ enc
        return self._finish(self.mlp(torch.cat([dec, ctx], -1)))


class CNNGRUNet(BlendshapeNet):
    """Frequency convolutions, causal time convolutions, GRU (seed 002's CNN+GRU)."""

    arch = "cnn_gru"

    def __init__(self, n_feats: int, outputs: tuple[str, ...] = ARKIT_52, lookahead: int = 2,
                 pad_value: float = 0.0, freq_channels: tuple[int, ...] = (16, 24, 32, 32),
                 time_channels: int = 96, time_kernel: int = 3, time_layers: int = 3,
                 hidden: int = 96, seal: bool = False, phone_classes: int = 0,
                 voice_classes: int = 0) -> None:
        super().__init__(n_feats, outputs, lookahead, pad_value, seal)
        self.freq_channels = tuple(int(c) for c in freq_channels)
        self.time_channels, self.time_kernel = int(time_channels), int(time_kernel)
        self.time_layers, self.hidden = int(time_layers), int(hidden)
        layers: list[nn.Module] = []
        c_in, f = 1, n_feats
        for c in self.freq_channels:  # F-convolutions: along frequency, down-sample by 2
            layers += [nn.Conv1d(c_in, c, 3, stride=2, padding=1), nn.ReLU()]
            c_in, f = c, (f + 1) // 2
        self.fconv = nn.Sequential(*layers)
        tl: list[nn.Module] = []
        c_in = c_in * f
        for _ in range(self.time_layers):  # T-convolutions: causal (valid on left-padded input)
            tl += [nn.Conv1d(c_in, time_channels, time_kernel), nn.ReLU()]
            c_in = time_channels
        self.tconv = nn.Sequential(*tl)
        self.receptive = 1 + self.time_layers * (self.time_kernel - 1)
        self.gru = nn.GRU(c_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, len(outputs))
        self.phone_classes = int(phone_classes)
        self.phone_head = nn.Linear(hidden, self.phone_classes) if self.phone_classes else None
        self.voice_classes = int(voice_classes)
        self.voice_head = nn.Linear(hidden, self.voice_classes) if self.voice_classes else None
        self.last_hidden: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        return {**super().config(), "freq_channels": list(self.freq_channels),
                "time_channels": self.time_channels, "time_kernel": self.time_kernel,
                "time_layers": self.time_layers, "hidden": self.hidden,
                "phone_classes": self.phone_classes, "voice_classes": self.voice_classes}

    def _hidden_for(self, head: nn.Module | None, what: str) -> torch.Tensor:
        if head is None or self.last_hidden is None:
            raise RuntimeError(f"{what}_logits needs {what}_classes > 0 and a forward pass")
        return self.last_hidden

    def phone_logits(self) -> torch.Tensor:
        """(B, T, phone_classes) logits of the last ``forward`` (training only)."""
        return self.phone_head(self._hidden_for(self.phone_head, "phone"))

    def voice_logits(self) -> torch.Tensor:
        """(B, T, voice_classes) logits of the last ``forward``, behind gradient reversal."""
        return self.voice_head(_ReverseGradient.apply(self._hidden_for(self.voice_head, "voice")))

    def _encode(self, xp: torch.Tensor) -> torch.Tensor:
        """(B, n + R - 1, F) raw -> (B, n, C) time-conv features."""
        b, t, f = xp.shape
        z = self.fconv(self._norm(xp).reshape(b * t, 1, f))
        z = z.reshape(b, t, -1).transpose(1, 2)
        return self.tconv(z).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, 52); output i describes input frame i - lookahead."""
        pad = x.new_full((x.shape[0], self.receptive - 1, x.shape[2]), self.pad_value)
        y, _ = self.gru(self._encode(torch.cat([pad, x], 1)))
        if self.phone_head is not None or self.voice_head is not None:
            self.last_hidden = y
        return self._finish(self.out(y))

    def state_spec(self) -> list[tuple[str, tuple[int, ...], float]]:
        return [("conv_buffer", (1, self.receptive - 1, self.n_feats), self.pad_value),
                ("gru_hidden", (1, 1, self.hidden), 0.0)]

    def forward_stream(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        buf, h = state
        xp = torch.cat([buf, x], 1)
        y, h2 = self.gru(self._encode(xp), h)
        return self._finish(self.out(y)), xp[:, xp.shape[1] - (self.receptive - 1):], h2


_CLASSES: dict[str, type[BlendshapeNet]] = {"ff": FFNet, "s2s": S2SNet, "cnn_gru": CNNGRUNet}


def build(arch: str, **config: Any) -> BlendshapeNet:
    """Network by architecture name and its ``config()`` dict."""
    if arch not in _CLASSES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if "outputs" in config:
        config["outputs"] = tuple(config["outputs"])
    if "freq_channels" in config:
        config["freq_channels"] = tuple(config["freq_channels"])
    return _CLASSES[arch](**config)


def stream_in_chunks(net: BlendshapeNet, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Run ``forward_stream`` over ``x`` (1, T, F) in chunks of the given sizes (tests, export
    checks): the concatenated output must equal ``forward(x)``."""
    state = [s.clone() for s in net.initial_state()]
    outs, t = [], 0
    for n in sizes:
        if n == 0:
            continue
        y, *state = net.forward_stream(x[:, t:t + n], *state)
        outs.append(y)
        t += n
    return torch.cat(outs, 1)
