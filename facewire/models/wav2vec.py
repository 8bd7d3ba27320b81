"""wav2vec 2.0 features from a local model folder (seed 000's speaker-agnostic encoder).

No model hub is reachable here, so the model is read with ``local_files_only=True`` from a
folder written by ``save_pretrained`` (config.json + weights, optionally a
preprocessor_config.json saying whether to normalise the waveform). Frame ``j`` covers
samples ``[j * stride, j * stride + receptive)``; its media time is the end of that span,
which is what :class:`facewire.train.data.dataset.FeatureSpec` records as ``t0`` and ``rate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000


class Wav2VecError(RuntimeError):
    """The local wav2vec folder is missing or unusable; the message names it."""


def conv_geometry(kernels: list[int] | tuple[int, ...], strides: list[int] | tuple[int, ...]
                  ) -> tuple[int, int]:
    """(receptive field, stride) in samples of the convolutional feature encoder."""
    receptive, jump = 1, 1
    for k, s in zip(kernels, strides):
        receptive += (k - 1) * jump
        jump *= s
    return receptive, jump


class Wav2VecFeatures:
    """Callable: 16 kHz mono float audio -> (frames, hidden) float32 hidden states."""

    def __init__(self, model_dir: str | Path, layer: int = -1, device: str = "cpu") -> None:
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").exists():
            raise Wav2VecError(f"{model_dir}: no config.json: not a local wav2vec 2.0 folder "
                               "(write one with save_pretrained; the hub is not reachable)")
        import torch
        from transformers import Wav2Vec2Model

        try:
            self.model = Wav2Vec2Model.from_pretrained(str(model_dir), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise Wav2VecError(f"{model_dir}: cannot load wav2vec 2.0 model: {exc}") from exc
        self.model.eval().to(device)
        self.torch, self.device, self.layer = torch, device, int(layer)
        cfg = self.model.config
        self.receptive, self.stride = conv_geometry(cfg.conv_kernel, cfg.conv_stride)
        self.dim = int(cfg.hidden_size)
        pre = model_dir / "preprocessor_config.json"
        self.normalize = bool(json.loads(pre.read_text()).get("do_normalize", True)
                              ) if pre.exists() else True
        self.model_dir = model_dir

    @property
    def rate(self) -> float:
        return SAMPLE_RATE / self.stride

    @property
    def t0(self) -> float:
        return self.receptive / SAMPLE_RATE

    def spec_dict(self) -> dict:
        return {"model_dir": str(self.model_dir), "layer": self.layer,
                "receptive": self.receptive, "stride": self.stride,
                "normalize": self.normalize}

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        x = np.asarray(audio, np.float32).ravel()
        if len(x) < self.receptive:
            x = np.pad(x, (0, self.receptive - len(x)))
        if self.normalize:
            x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
        with self.torch.no_grad():
            t = self.torch.from_numpy(x)[None].to(self.device)
            if self.layer == -1:
                h = self.model(t).last_hidden_state
            else:
                h = self.model(t, output_hidden_states=True).hidden_states[self.layer]
        return h[0].cpu().numpy().astype(np.float32)


def load_wav2vec(path: str, layer: int = -1, device: str = "cpu") -> Wav2VecFeatures:
    """A Wav2VecFeatures from a local folder, with errors that name the path or the fix
    (torch and transformers are imported only here, so the runtime never needs them)."""
    folder = Path(path).expanduser()
    if not path:
        raise ValueError("kind wav2vec2 needs wav2vec_path: a local wav2vec 2.0 folder "
                         "(written by save_pretrained; the model hub is not reachable)")
    if not folder.is_dir():
        raise FileNotFoundError(f"wav2vec_path {folder}: no such folder (a local wav2vec 2.0 "
                                "model written by save_pretrained: config.json + weights)")
    try:
        import torch
        import transformers  # noqa: F401  (checked here for the error message)
    except ImportError as exc:
        raise RuntimeError(f"kind wav2vec2 needs torch and transformers ({exc}): "
                           "install facewire[train]") from exc
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return Wav2VecFeatures(folder, layer=layer, device=device)
