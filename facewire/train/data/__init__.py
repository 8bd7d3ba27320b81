"""Corpora and what every family reads from them: utterances, loaders for each source,
batches, audio features, and the synthetic corpus builder (``facewire data synth``)."""
