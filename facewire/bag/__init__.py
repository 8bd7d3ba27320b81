"""MCAP bags: record a graph's topics, play them back, inspect and repair files.

Recorder and Player are nodes, run on the bus; BagWriter, BagReader and read_bag work on
files alone (a notebook can read a bag without a running graph).
"""

from facewire.bag.reader import BagError, BagInfo, BagMessage, BagReader, read_bag, repair
from facewire.bag.writer import BagWriter

__all__ = ["BagError", "BagInfo", "BagMessage", "BagReader", "BagWriter", "read_bag", "repair"]
