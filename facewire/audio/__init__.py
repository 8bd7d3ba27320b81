"""Audio in, outside the bus: files, sound devices, and cutting either into AudioChunks.

Library code with no topics: the audio node (:mod:`facewire.nodes.audio`) paces these and
publishes what they give; offline tools and commands read files through them too.
"""


class AudioSourceError(RuntimeError):
    """A source that cannot be opened; the text says what to do."""
