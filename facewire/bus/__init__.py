"""ZeroMQ transport, discovery registry and the Node runtime."""

from facewire.bus.node import Input, Node, Output, Param, ParamError
from facewire.bus.transport import Bus, Publisher, Subscription

__all__ = ["Bus", "Input", "Node", "Output", "Param", "ParamError", "Publisher", "Subscription"]
