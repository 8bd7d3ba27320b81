"""Launch files as data: one import for what the loader, the launcher and the CLI share.

The work is split by job: ``where`` (file positions and LaunchError), ``substitute``
(``$(arg ...)`` and friends), ``spec`` (LaunchSpec, NodeSpec), ``loader`` (files, args,
nodes, includes) and ``delay`` (the graph's algorithmic delay).
"""

from __future__ import annotations

from facewire.launch.delay import graph_delay
from facewire.launch.loader import BUNDLED_DIR, bundled_files, load, resolve_file
from facewire.launch.spec import MISSING, LaunchArg, LaunchSpec, NodeSpec
from facewire.launch.substitute import parse_cli_value
from facewire.launch.where import LaunchError, Where

__all__ = ["BUNDLED_DIR", "MISSING", "LaunchArg", "LaunchError", "LaunchSpec", "NodeSpec",
           "Where", "bundled_files", "graph_delay", "load", "parse_cli_value", "resolve_file"]
