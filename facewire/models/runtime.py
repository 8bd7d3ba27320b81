"""Run an exported blendshape model with onnxruntime (no torch): streaming and whole-file.

``StreamingPredictor.step`` takes feature frames at the model's feature rate (100 fps
log-mel for the shipped model) in any chunk sizes, carries the network state (fed back from
the ONNX ``*_out`` to ``*_in`` tensors), drops the first ``lookahead`` network frames (they
describe time before the stream) and resamples to the animation rate. Output frame ``k``
describes media time ``k / fps`` from the stream start. ``predict`` computes the same frames
for a whole file. ``delay_s`` is the worst wait from a frame's media time to the last audio
sample it depends on: feature lookahead + model lookahead + interpolation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facewire.models.card import CardError, read_card
from facewire.models.framerate import StreamingResampler, interpolation_delay, resample
from facewire.models.logmel import LogMelConfig
from facewire.models.silence_reset import SilenceReset, segments
from facewire.models.speaker_norm import SpeakerNormaliser, SpeakerNormConfig

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "facewire_cnn_gru_logmel.onnx"
# the shipped low-latency model (20 ms lookahead) that the live launch files use
LIVE_MODEL = "facewire_cnn_gru_logmel_live"
_CHUNK = 2048  # predict() runs long files in blocks (bounds memory; same frames)


class ModelError(RuntimeError):
    """A model cannot be used: the message names the path, what is wrong and the fix."""


def default_model_path() -> Path:
    """The shipped default model (ONNX; its card lies beside it)."""
    return WEIGHTS_DIR / DEFAULT_MODEL


def resolve_model(path: str | Path) -> tuple[Path, Path]:
    """(onnx, card) for an .onnx file, a .json card, or a folder holding one model."""
    p = Path(path)
    bundled = WEIGHTS_DIR / f"{p.name}.onnx"
    if not p.exists() and p.name == str(path) and bundled.exists():
        p = bundled  # a shipped model by name, e.g. facewire_cnn_gru_logmel_live
    if p.is_dir():
        cards = sorted(p.glob("*.json"))
        if not cards:
            raise ModelError(f"{p}: no model card (*.json) in this folder; export a model "
                             "with 'facewire export CHECKPOINT --out DIR'")
        if len(cards) > 1:
            raise ModelError(f"{p}: several model cards ({', '.join(c.name for c in cards)}); "
                             "pass the .onnx or .json of the one to use")
        card = cards[0]
        return p / read_card_safe(card)["onnx"], card
    if p.suffix == ".json":
        return p.parent / read_card_safe(p)["onnx"], p
    if not p.exists():
        shipped = ", ".join(sorted(c.stem for c in WEIGHTS_DIR.glob("*.json")))
        raise ModelError(f"{p}: model file not found (pass an exported .onnx with its .json "
                         f"card, a folder holding one, or a shipped model: {shipped})")
    return p, p.with_suffix(".json")


def read_card_safe(path: Path) -> dict[str, Any]:
    try:
        return read_card(path)
    except CardError as exc:
        raise ModelError(str(exc)) from exc


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    avail = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in avail:
            raise ModelError(f"device 'cuda' asked, but onnxruntime offers only {avail}; install "
                             "onnxruntime-gpu on a CUDA host, or use device 'auto' or 'cpu'")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in avail else []) + [
            "CPUExecutionProvider"]
    raise ModelError(f"unknown device {device!r}: auto, cpu or cuda")


class StreamingPredictor:
    """An exported model, stepped through a stream or run on a whole file."""

    def __init__(self, model_dir_or_onnx: str | Path, device: str = "auto",
                 fps: float | None = None, threads: int = 1,
                 silence_reset_s: float | None = None) -> None:
        """``silence_reset_s``: seconds of silence after which the recurrent state starts
        afresh (:mod:`facewire.models.silence_reset`); None: the card's
        ``runtime.silence_reset_s`` (0, off, for cards without it)."""
        import onnxruntime as ort

        self.path, card_path = resolve_model(model_dir_or_onnx)
        if not self.path.exists():
            raise ModelError(f"{self.path}: ONNX file named by {card_path} is missing; "
                             "re-export the model")
        self.card: dict[str, Any] = read_card_safe(card_path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=_providers(device))
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime raises its own types for damaged graphs
            raise ModelError(f"{self.path}: corrupt or unreadable ONNX model "
                             f"({str(exc).splitlines()[0][:200]}); re-export it") from exc
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        card = self.card
        feats = card["features"]
        self.io = card["io"]
        self.streaming = bool(card["streaming"])
        self.dim = int(feats["dim"])
        self.rate = float(feats["rate"])
        self.t0 = float(feats["t0"])
        self.pad_value = float(feats["pad_value"])
        self.lookahead = int(card["lookahead_frames"])
        self.fps: float = float(fps or card["fps"])
        self.names: tuple[str, ...] = tuple(card["outputs"])
        self.logmel: LogMelConfig | None = (LogMelConfig(**feats["logmel"])
                                            if feats["kind"] == "logmel" else None)
        feat_delay = self.logmel.delay_s if self.logmel else 0.0
        self.delay_s: float = (feat_delay + self.lookahead / self.rate
                               + interpolation_delay(self.rate, self.fps, self.t0))
        norm = feats.get("speaker_norm")
        self.speaker_norm: SpeakerNormaliser | None = (
            SpeakerNormaliser(SpeakerNormConfig.from_dict(norm)) if norm else None)
        self._check_graph()
        if silence_reset_s is None:
            silence_reset_s = float(card.get("runtime", {}).get("silence_reset_s", 0.0))
        if silence_reset_s < 0:
            raise ModelError(f"silence_reset_s {silence_reset_s:g}: seconds, 0 (off) or more")
        # only log-mel carries a level to gate on; convolution buffers hold real frames
        self.silence_reset_s = silence_reset_s if self.logmel is not None else 0.0
        self._recurrent = [s for s in self.io["state"] if "buffer" not in s["name"]]
        self._silence = SilenceReset(self.silence_reset_s, self.rate)
        self._resampler = StreamingResampler(self.rate, self.fps, self.t0)
        self.reset()

    def _check_graph(self) -> None:
        """The ONNX graph must have the inputs and shapes the card promises."""
        ins = {i.name: i for i in self.session.get_inputs()}
        outs = {o.name for o in self.session.get_outputs()}
        want = [self.io["input"]] + [s["name"] for s in self.io["state"]]
        missing = [n for n in want if n not in ins]
        if missing or self.io["output"] not in outs:
            raise ModelError(f"{self.path}: graph lacks {missing or [self.io['output']]} that "
                             "its card names; the .onnx and .json do not belong together")
        shape = ins[self.io["input"]].shape
        if len(shape) != 3 or (isinstance(shape[2], int) and shape[2] != self.dim):
            raise ModelError(f"{self.path}: input {self.io['input']} has shape {shape}, the card "
                             f"says [1, frames, {self.dim}]; re-export the model")
        for s in self.io["state"]:
            got = ins[s["name"]].shape
            if [d if isinstance(d, int) else -1 for d in got] != list(s["shape"]):
                raise ModelError(f"{self.path}: state {s['name']} has shape {got}, card says "
                                 f"{s['shape']}; re-export the model")

    # -- streaming -----------------------------------------------------------------------
    def _initial_state(self) -> dict[str, np.ndarray]:
        return {s["name"]: np.full(s["shape"], s["fill"], np.float32) for s in self.io["state"]}

    def reset(self) -> None:
        """Back to the stream start: silence as left context, media time 0."""
        self._state = self._initial_state()
        self._to_drop = self.lookahead
        self._resampler.reset()
        self._silence.reset()
        if self.speaker_norm is not None:
            self.speaker_norm.reset()

    def _frames(self, feature_frames: np.ndarray) -> np.ndarray:
        x = np.asarray(feature_frames, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ModelError(f"{self.path}: expects feature frames (n, {self.dim}) at "
                             f"{self.rate:g} fps, got shape {x.shape}; compute features with "
                             "the card's config (predictor.logmel)")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.path}: non-finite feature frames refused (state unchanged)")
        return x

    def _run(self, x: np.ndarray, state: dict[str, np.ndarray]
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        names = [self.io["output"]] + [s["output"] for s in self.io["state"]]
        res = self.session.run(names, {self.io["input"]: x[None], **state})
        return res[0][0], {s["name"]: r for s, r in zip(self.io["state"], res[1:])}

    def _run_with_resets(self, x: np.ndarray, marks: np.ndarray, state: dict[str, np.ndarray]
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``_run`` in blocks, the recurrent state back at its start before marked frames."""
        ys = []
        for a, b, reset_first in segments(marks, _CHUNK):
            if reset_first:
                state = {**state, **{s["name"]: np.full(s["shape"], s["fill"], np.float32)
                                     for s in self._recurrent}}
            y, state = self._run(x[a:b], state)
            ys.append(y)
        return np.concatenate(ys), state

    def step(self, feature_frames: np.ndarray) -> np.ndarray:
        """(n, dim) feature frames in -> (m, 52) animation frames out (m may be 0)."""
        x = self._frames(feature_frames)
        if not self.streaming:
            raise ModelError(f"{self.path}: {self.card['architecture']} is an offline model "
                             "(needs the whole utterance); use predict(), or a streaming model")
        if len(x) == 0:
            self._silence.speech = np.zeros(0, bool)
            return np.zeros((0, len(self.names)), np.float32)
        marks = (self._silence.push(x) if self.logmel is not None
                 else np.zeros(len(x), bool))
        if self.speaker_norm is not None:
            x = self.speaker_norm(x)
        y, self._state = self._run_with_resets(x, marks, self._state)
        if self._to_drop:
            k = min(self._to_drop, len(y))
            y, self._to_drop = y[k:], self._to_drop - k
        return self._resampler.push(y)

    @property
    def speech(self) -> np.ndarray:
        """The energy gate's verdict on the frames of the last ``step`` (log-mel models):
        what the node relaxes the face in pauses with, so it does not gate a second time."""
        return self._silence.speech

    @property
    def frames_out(self) -> int:
        """Animation frames emitted since reset(): the next one describes frames_out / fps."""
        return self._resampler._k

    def flush(self) -> np.ndarray:
        """At end of stream: feed ``lookahead`` frames of silence so the last real frames
        get their faces. Optional; the node may instead keep streaming."""
        if not self.streaming or self.lookahead == 0:
            return np.zeros((0, len(self.names)), np.float32)
        return self.step(np.full((self.lookahead, self.dim), self.pad_value, np.float32))

    def predict(self, feature_frames: np.ndarray) -> np.ndarray:
        """Whole-file inference: the frames stepping through from reset() would give.
        Does not touch the streaming state."""
        x = self._frames(feature_frames)
        if len(x) == 0:
            return np.zeros((0, len(self.names)), np.float32)
        marks = (SilenceReset(self.silence_reset_s, self.rate).push(x)  # fresh, like the
                 if self.silence_reset_s else np.zeros(len(x), bool))  # normaliser below:
        if self.speaker_norm is not None:  # the stream's state stays untouched
            x = SpeakerNormaliser(self.speaker_norm.cfg)(x)
        if self.streaming:
            y = self._run_with_resets(x, marks, self._initial_state())[0][self.lookahead:]
        else:
            y = self.session.run([self.io["output"]], {self.io["input"]: x[None]})[0][0]
        return resample(y, self.rate, self.fps, self.t0)
