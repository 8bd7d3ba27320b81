"""Sparse-to-dense (S2D, seed 001): 68 landmark displacements -> dense mesh displacements.

The decoder of Otberdout et al. that seed 001 uses: a fully connected layer lifts the
landmark displacements onto the coarsest mesh of a pyramid, then five blocks of *spiral
convolution* (SpiralNet++: each vertex concatenates the features along its fixed spiral
sequence and applies one linear map) each followed by *up-sampling* (fixed barycentric
interpolation from the coarser mesh) reach the full mesh. The fifth convolution outputs
x, y, z on the second-finest level and its up-sampling interpolates them onto the full
mesh: displacement fields are smooth, and no convolution runs on the full mesh, which keeps
a frame within 5 ms on one CPU core. The pyramid comes from
:mod:`facewire.models.mesh_sampling`; its tables are buffers, so a checkpoint or an ONNX
graph is self-contained, and both operations are plain gathers and matrix products that
ONNX runs everywhere (no sparse ops).

Identity: the paper's S2D reads only the landmark displacements. With ``condition`` the
decoder also reads the identity's neutral landmarks (offsets from the rig's generic
neutral, 68 x 3), which is all it needs to know to shape the motion for a head it has never
seen; zeros mean "the rig's own neutral face". Inputs and outputs are in rig units, scaled
by fixed factors measured on the training data so the layers work near unit range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

N_POINTS = 68
DEFAULT_CHANNELS = (32, 32, 16, 16, 16)
DEFAULT_FACTORS = (4.0, 2.0, 2.0, 2.0, 2.0)  # decimation per level, full mesh first


class SpiralConv(nn.Module):
    """``[B, V, C_in] -> [B, V, C_out]``: linear map of each vertex's spiral neighbourhood."""

    def __init__(self, c_in: int, c_out: int, spirals: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("spirals", torch.as_tensor(spirals, dtype=torch.long))
        self.n, self.length = int(spirals.shape[0]), int(spirals.shape[1])
        self.lin = nn.Linear(c_in * self.length, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.index_select(1, self.spirals.reshape(-1))
        return self.lin(g.reshape(x.shape[0], self.n, -1))


class Upsample(nn.Module):
    """``[B, V_coarse, C] -> [B, V_fine, C]`` by fixed barycentric weights (3 per vertex)."""

    def __init__(self, index: torch.Tensor, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index, dtype=torch.long))
        self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float32))
        self.n, self.k = int(index.shape[0]), int(index.shape[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # k gathers and weighted adds: in onnxruntime a strided ReduceSum over k costs
        # several times more than this
        y = x.index_select(1, self.index[:, 0]) * self.weight[:, :1]
        for j in range(1, self.k):
            y = y + x.index_select(1, self.index[:, j]) * self.weight[:, j:j + 1]
        return y


class S2DNet(nn.Module):
    """FC (through a small latent) -> 5 x (spiral conv, ELU, up-sample); the fifth
    convolution is linear and outputs x, y, z."""

    arch = "s2d"

    def __init__(self, sizes: list[int], spiral_length: int = 9,
                 channels: tuple[int, ...] = DEFAULT_CHANNELS, condition: bool = True,
                 latent: int = 64, tables: dict[str, Any] | None = None) -> None:
        """``sizes``: vertices per pyramid level, full mesh first (6 levels for 5 blocks).
        ``tables``: ``spirals`` (list per level) and ``up`` (list of (index, weight) taking
        level i+1 to i) from the pyramid; omitted when a checkpoint will fill them."""
        super().__init__()
        if len(sizes) != len(channels) + 1:
            raise ValueError(f"{len(channels)} blocks need {len(channels) + 1} mesh levels, "
                             f"got {len(sizes)}")
        self.sizes = [int(s) for s in sizes]
        self.spiral_length = int(spiral_length)
        self.channels = tuple(int(c) for c in channels)
        self.condition = bool(condition)
        self.latent = int(latent)
        n_levels = len(self.sizes)
        if tables is None:
            spirals = [torch.zeros(s, spiral_length, dtype=torch.long) for s in self.sizes]
            up = [(torch.zeros(self.sizes[i], 3, dtype=torch.long),
                   torch.zeros(self.sizes[i], 3)) for i in range(n_levels - 1)]
        else:
            spirals = [torch.as_tensor(np.asarray(s)) for s in tables["spirals"]]
            up = [(torch.as_tensor(np.asarray(i)), torch.as_tensor(np.asarray(w)))
                  for i, w in tables["up"]]
        self.register_buffer("in_scale", torch.ones(()))
        self.register_buffer("id_scale", torch.ones(()))
        self.register_buffer("out_scale", torch.ones(()))
        in_dim = N_POINTS * 3 * (2 if self.condition else 1)
        # a narrow latent keeps the lift onto the coarsest mesh small (params ~ sizes[-1] * C)
        self.fc = nn.Sequential(nn.Linear(in_dim, latent), nn.ELU(),
                                nn.Linear(latent, self.sizes[-1] * self.channels[0]))
        convs, ups = [], []
        widths = [*self.channels, 3]
        for b in range(len(self.channels)):
            level = n_levels - 1 - b  # coarsest first
            convs.append(SpiralConv(widths[b], widths[b + 1], spirals[level]))
            ups.append(Upsample(*up[level - 1]))
        self.convs = nn.ModuleList(convs)
        self.ups = nn.ModuleList(ups)
        self.act = nn.ELU()

    @property
    def n_vertices(self) -> int:
        return self.sizes[0]

    def config(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "spiral_length": self.spiral_length,
                "channels": list(self.channels), "condition": self.condition,
                "latent": self.latent}

    def set_scales(self, landmarks: float, identity: float, dense: float) -> None:
        """Typical magnitudes (rig units) of the inputs and outputs, from training data."""
        self.in_scale.fill_(float(landmarks))
        self.id_scale.fill_(float(identity))
        self.out_scale.fill_(float(dense))

    def forward(self, landmarks: torch.Tensor, identity: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``[B, 68, 3]`` displacements (+ ``[B, 68, 3]`` identity neutral offsets) ->
        ``[B, V, 3]`` dense displacements, rig units."""
        z = landmarks.reshape(landmarks.shape[0], -1) / self.in_scale
        if self.condition:
            if identity is None:
                identity = torch.zeros_like(landmarks)
            z = torch.cat([z, identity.reshape(identity.shape[0], -1) / self.id_scale], 1)
        x = self.fc(z).reshape(z.shape[0], self.sizes[-1], self.channels[0])
        last = len(self.convs) - 1
        for b, (conv, up) in enumerate(zip(self.convs, self.ups)):
            y = conv(x)
            x = up(y if b == last else self.act(y))
        return x * self.out_scale


def tables_from_pyramid(pyramid: Any) -> dict[str, Any]:
    """The decoder's index tables from a :class:`facewire.models.mesh_sampling.MeshPyramid`."""
    from facewire.models.mesh_sampling import as_gather

    return {"spirals": [lv.spirals for lv in pyramid.levels],
            "up": [as_gather(u, 3) for u in pyramid.up]}


def build(config: dict[str, Any], tables: dict[str, Any] | None = None) -> S2DNet:
    return S2DNet(sizes=config["sizes"], spiral_length=config.get("spiral_length", 9),
                  channels=tuple(config.get("channels", DEFAULT_CHANNELS)),
                  condition=bool(config.get("condition", True)),
                  latent=int(config.get("latent", 64)), tables=tables)
