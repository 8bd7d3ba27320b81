"""Emotion fusion (seed 004): emotion presets on the ARKit rig, eased transitions, the
disentangled speech/expression fusion module and its runtime.

Only numpy modules are imported here; ``fusion`` and ``data`` (torch) load on demand, so
the runtime never needs torch.
"""
