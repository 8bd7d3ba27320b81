"""Training (torch): one package per model family, plus what the families share.

* ``data/``: corpora, loaders, batches, features, the synthetic corpus builder;
* ``blendshapes/``, ``mesh/`` (the landmarks and densify families), ``emotion/``: each
  family's config, training loop, losses, export and evaluation;
* ``runs`` (seeds, device, run folder, checkpoint reading), ``epochs`` (the epoch book),
  ``metrics`` (lip aperture and closure), ``onnx_stream`` (streaming ONNX export).

A family imports ``data`` and the shared modules, never another family; runtime packages
never import this one (tests/test_train_layout.py).
"""
