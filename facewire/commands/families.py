"""The model families, one name each in the command line, the code (``facewire/train/<
package>``), the docs and the model cards: ``facewire train|export|eval <family>``.

The landmark and dense-mesh networks are one package (``facewire/train/mesh``: they share
the identities and the posed frames) but two families, each trained, exported and scored
on its own; seed 001 calls them S2L and S2D.
"""

from __future__ import annotations

FAMILIES: dict[str, str] = {
    "blendshapes": "speech -> ARKit blendshape curves (ff | s2s | cnn_gru)",
    "landmarks": "speech -> 68 face landmark displacements (seed 001's S2L)",
    "densify": "landmark displacements -> dense face mesh (seed 001's S2D)",
    "emotion": "fuse speech and expression blendshapes without cross-talk (seed 004)",
}


def family_list() -> str:
    """``blendshapes | landmarks | densify | emotion``, for help texts."""
    return " | ".join(FAMILIES)
