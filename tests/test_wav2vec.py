"""wav2vec 2.0 features from a local folder: a tiny random model saved with save_pretrained
and loaded through the real code, then used for a training run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_w2v(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    cfg = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8, 8), conv_kernel=(10, 3, 3), conv_stride=(5, 4, 4),
        num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2, vocab_size=4)
    folder = tmp_path_factory.mktemp("w2v")
    transformers.Wav2Vec2Model(cfg).save_pretrained(folder)
    return folder


def test_features_rate_and_shape(tiny_w2v: Path) -> None:
    from facewire.models.wav2vec import Wav2VecFeatures, conv_geometry

    w = Wav2VecFeatures(tiny_w2v)
    assert conv_geometry((10, 3, 3), (5, 4, 4)) == (10 + 2 * 5 + 2 * 20, 80)
    assert w.rate == 200.0 and w.dim == 16 and w.t0 == pytest.approx(60 / 16000)
    f = w(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    assert f.shape == (1 + (16000 - 60) // 80, 16) and np.isfinite(f).all()
    assert w(np.zeros(10, np.float32)).shape == (1, 16)  # shorter than one frame: padded


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    from facewire.models.wav2vec import Wav2VecError, Wav2VecFeatures

    with pytest.raises(Wav2VecError, match="no config.json"):
        Wav2VecFeatures(tmp_path)


def test_train_and_export_on_wav2vec_features(tiny_w2v: Path, tmp_path: Path) -> None:
    import json

    from facewire.train.blendshapes.export import export
    from facewire.train.blendshapes.train import TrainConfig, train
    from facewire.train.data.dataset import make_toy_corpus

    corpus = make_toy_corpus(tmp_path / "toy", n_clips=4, seconds=0.5, voices=2)
    res = train(TrainConfig(data=[str(corpus)], arch="ff", out=str(tmp_path / "run"),
                            features="wav2vec2", wav2vec=str(tiny_w2v), epochs=1, hidden=8,
                            window=4, quiet=True, held_out=0.5))
    assert np.isfinite(res["best_val"])
    card = json.loads(export(tmp_path / "run" / "best.pt", tmp_path / "onnx").read_text())
    assert card["features"]["kind"] == "wav2vec2" and card["features"]["dim"] == 16
    assert card["features"]["wav2vec"]["model_dir"] == str(tiny_w2v)

    from facewire.models.runtime import StreamingPredictor

    p = StreamingPredictor(tmp_path / "onnx")
    assert p.logmel is None and p.rate == 200.0
    assert p.predict(np.zeros((30, 16), np.float32)).shape[1] == 52
