"""The emotion family: the fusion module of seed 004 (``facewire train|export|eval
emotion``); its runtime lives in ``facewire.emotion``."""
