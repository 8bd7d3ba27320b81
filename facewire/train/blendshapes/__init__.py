"""The blendshapes family: speech -> ARKit blendshape curves (``facewire train|export|eval
blendshapes``)."""
