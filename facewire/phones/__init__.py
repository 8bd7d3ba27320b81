"""Phones: the ARPAbet vocabulary, forced alignment of known text, and the co-articulation
teacher that turns timed phones into ARKit curves.

Runtime code (nodes, ``animate``) uses these as well as training, so they live outside
``facewire.train`` and import no torch.
"""
