"""The deformation fusion module of seed 004 (training side, torch).

Two CNN encoders read geometry maps (``geometry.FaceGeometry``) of a speech-driven and an
expression-driven deformation and regress weights of ``2K`` learned blendshapes: the rows
of the linear decoder's weight matrix, rows ``:K`` for speech and ``K:`` for expression.
Training minimises reconstruction of each input, an L1 sparsity constraint on each
encoder's *cross-domain* half, a Laplacian smoothness term on the learned blendshapes and a
small output regulariser (seed 004, Eqs. 9-12). At inference the cross-domain halves are
dropped and the rest combined (Eq. 13); ``export_arrays`` folds the decoder and the
least-squares map to ARKit weights into two ``[K, 52]`` matrices.

Two deliberate departures from the paper, for reasons that hold on any rig:

* no instance normalisation and no biases: instance norm divides out the amplitude of a
  map, which *is* the blendshape weight; a bias-free ReLU network is positively
  homogeneous, so half the deformation gives half the weights and neutral gives zero;
* an optional fusion loss on known combinations (``w_fuse``): our synthetic training data
  knows which part of each sample is secondary, which the paper's scans do not; with
  ``w_fuse=0`` the objective is the paper's alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from facewire.emotion.geometry import FaceGeometry


class MapEncoder(nn.Module):
    """Six stride-2 conv blocks (64x64 -> 1x1) and a linear layer to blendshape weights,
    plus a linear read-out of the map itself: the rig is linear, so the ideal encoder is
    nearly linear in the map, which a ReLU stack only approximates slowly; the CNN learns
    the rest (clipping, the split of an expression from its secondary deformations)."""

    def __init__(self, n_out: int, size: int = 64,
                 channels: tuple[int, ...] = (12, 24, 32, 64, 96, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, s = 3, size
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.ReLU()]
            c_in, s = c, (s + 1) // 2
        self.conv = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * s * s, n_out, bias=False)
        self.skip = nn.Linear(3 * size * size, n_out, bias=False)
        nn.init.zeros_(self.skip.weight)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(maps).flatten(1)) + self.skip(maps.flatten(1))


class FusionModule(nn.Module):
    """Speech and expression encoders + learned blendshapes (see the module docstring)."""

    def __init__(self, geom: FaceGeometry, k: int = 24, map_scale: float = 4.0) -> None:
        super().__init__()
        self.k, self.n_face, self.size = k, geom.n_face, geom.size
        self.map_scale = map_scale  # maps in cm are ~0.1-1; scaled to ~unit range
        self.register_buffer("map_basis", torch.from_numpy(geom.map_basis()))
        self.register_buffer("arkit_basis",
                             torch.from_numpy(geom.basis.reshape(len(geom.basis), -1)))
        self.enc_speech = MapEncoder(2 * k, geom.size)
        self.enc_expr = MapEncoder(2 * k, geom.size)
        self.blendshapes = nn.Parameter(torch.randn(2 * k, geom.n_face * 3) * 1e-2)

    def maps(self, arkit: torch.Tensor) -> torch.Tensor:
        """ARKit weights ``[N, 52]`` -> geometry maps ``[N, 3, S, S]`` (linear: a matmul)."""
        return (self.map_scale * arkit @ self.map_basis).view(-1, 3, self.size, self.size)

    def displacements(self, arkit: torch.Tensor, cols: torch.Tensor | None = None
                      ) -> torch.Tensor:
        """Rig displacements of ARKit weights (flattened; only columns ``cols`` if given)."""
        return arkit @ (self.arkit_basis if cols is None else self.arkit_basis[:, cols])

    def encode(self, speech: torch.Tensor, expr: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_speech(self.maps(speech)), self.enc_expr(self.maps(expr))

    def decode(self, z: torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        return z @ (self.blendshapes if cols is None else self.blendshapes[:, cols])

    def fused_code(self, z_s: torch.Tensor, z_e: torch.Tensor) -> torch.Tensor:
        """Eq. 13: own-domain halves kept, cross-domain halves dropped."""
        return torch.cat([z_s[:, : self.k], z_e[:, self.k:]], dim=1)

    def forward(self, speech: torch.Tensor, expr: torch.Tensor) -> torch.Tensor:
        """Fused face-region displacements ``[N, n_face * 3]``."""
        return self.decode(self.fused_code(*self.encode(speech, expr)))


# -- losses ----------------------------------------------------------------------------


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, vertex_w: torch.Tensor | None
                 ) -> torch.Tensor:
    """Mean over samples and vertices of ``w_v * |pred_v - target_v|^2`` (Eq. 11);
    ``vertex_w=None`` for vertices already drawn with probability proportional to w."""
    d = (pred - target).view(pred.shape[0], -1, 3)
    e = (d * d).sum(-1)
    return (e if vertex_w is None else e * vertex_w).mean()


def sample_columns(vertex_w: torch.Tensor, n: int, generator: torch.Generator | None = None
                   ) -> torch.Tensor:
    """Columns of ``n`` vertices drawn with probability proportional to their loss weight:
    a plain mean over them estimates the weighted MSE without bias, at a fraction of the
    cost of decoding every vertex."""
    v = torch.multinomial(vertex_w, n, replacement=True, generator=generator)
    return (3 * v[:, None] + torch.arange(3)).reshape(-1)


def cross_sparsity(z_s: torch.Tensor, z_e: torch.Tensor, k: int) -> torch.Tensor:
    """L1 on the speech encoder's expression half and the expression encoder's speech half
    (Eq. 9): cross-domain weights may be non-zero but are pushed to be few and small."""
    return z_s[:, k:].abs().mean() + z_e[:, :k].abs().mean()


def laplacian_matrix(edges: np.ndarray, n: int) -> torch.Tensor:
    """Sparse uniform graph Laplacian ``L = I - D^-1 A`` of a mesh's edges (``[n, n]``)."""
    i = np.concatenate([edges[:, 0], edges[:, 1]])
    j = np.concatenate([edges[:, 1], edges[:, 0]])
    deg = np.bincount(i, minlength=n).astype(np.float32)
    vals = np.concatenate([np.ones(n, np.float32), -1.0 / np.maximum(deg[i], 1)])
    idx = np.stack([np.concatenate([np.arange(n), i]), np.concatenate([np.arange(n), j])])
    return torch.sparse_coo_tensor(torch.from_numpy(idx), torch.from_numpy(vals), (n, n),
                                   check_invariants=False).coalesce()


def laplacian_loss(blendshapes: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
    """Eq. 12: squared Laplacian of every learned blendshape (``[B, n*3]``), summed over
    vertices, averaged over shapes: no spikes around the mouth corners (Fig. 6)."""
    b, n = blendshapes.shape[0], lap.shape[0]
    x = blendshapes.view(b, n, 3).permute(1, 0, 2).reshape(n, b * 3)
    y = torch.sparse.mm(lap, x)
    return (y * y).sum() / b


@dataclass(frozen=True)
class LossWeights:
    sparsity: float = 1e-3
    laplacian: float = 1e-4
    output_reg: float = 1e-5
    fuse: float = 1.0
    decay: float = 1e-5  # L2 on the blendshapes: fixes the scale shared by weights and shapes


def fusion_losses(model: FusionModule, batch: dict[str, torch.Tensor], vertex_w: torch.Tensor,
                  lap: torch.Tensor, w: LossWeights = LossWeights(),
                  n_vertices: int | None = None) -> dict[str, torch.Tensor]:
    """All terms for one batch of ARKit weight vectors (``speech``, ``expr`` inputs;
    ``target`` the known clean combination, optional). ``n_vertices``: estimate the
    vertex losses on that many vertices drawn by weight (None: all, weighted)."""
    cols = sample_columns(vertex_w, n_vertices) if n_vertices else None
    vw = None if n_vertices else vertex_w
    z_s, z_e = model.encode(batch["speech"], batch["expr"])
    n = z_s.shape[0]
    with_target = "target" in batch and w.fuse > 0
    codes = [z_s, z_e] + ([model.fused_code(z_s, z_e)] if with_target else [])
    inputs = [batch["speech"], batch["expr"]] + ([batch["target"]] if with_target else [])
    out = model.decode(torch.cat(codes), cols)  # one matmul for all decodes
    truth = model.displacements(torch.cat(inputs), cols)
    out_s, out_e = out[:n], out[n:2 * n]
    rec = weighted_mse(out_s, truth[:n], vw) + weighted_mse(out_e, truth[n:2 * n], vw)
    terms = {
        "rec": rec,
        "sparsity": cross_sparsity(z_s, z_e, model.k),
        "laplacian": laplacian_loss(model.blendshapes, lap),
        "output_reg": (out_s.pow(2).mean() + out_e.pow(2).mean()),
        "decay": model.blendshapes.pow(2).sum(1).mean(),
    }
    if with_target:
        terms["fuse"] = weighted_mse(out[2 * n:], truth[2 * n:], vw)
    total = (rec + w.sparsity * terms["sparsity"] + w.laplacian * terms["laplacian"]
             + w.output_reg * terms["output_reg"] + w.decay * terms["decay"]
             + w.fuse * terms.get("fuse", torch.zeros(())))
    terms["total"] = total
    return terms


def export_arrays(model: FusionModule, projector: np.ndarray) -> dict[str, np.ndarray]:
    """Decoder halves folded with the ARKit projector ``P [52, n*3]``: ``[K, 52]`` each,
    so run-time ARKit output is ``z_s^s @ speech_to_arkit + z_e^e @ expr_to_arkit``."""
    b = model.blendshapes.detach().cpu().numpy().astype(np.float64)
    m = b @ projector.T.astype(np.float64)
    return {"speech_to_arkit": m[: model.k].astype(np.float32),
            "expr_to_arkit": m[model.k:].astype(np.float32),
            "blendshapes": b.reshape(2 * model.k, model.n_face, 3).astype(np.float32)}
