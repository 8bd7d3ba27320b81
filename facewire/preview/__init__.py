"""Previews: rigs driven by Blendshapes or MeshDeform, rendered in software to MP4."""
