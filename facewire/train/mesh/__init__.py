"""The mesh families: ``landmarks`` (speech -> 68 landmark displacements, seed 001's S2L)
and ``densify`` (landmark displacements -> dense mesh, seed 001's S2D). They share the
identities, the posed frames (``data``), the losses and the evaluation of the chain."""
