"""Positions in launch files, and the error that names them: ``file:line: key: message``.

YAML is read with PyYAML's composer (``yaml.compose``) rather than ``safe_load`` so that
each value keeps its ``start_mark`` (file position) for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


@dataclass(frozen=True)
class Where:
    """A position in a launch file, for messages: ``file:line: key``."""

    file: Path
    line: int
    key: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key}" if self.key else f"{self.file}:{self.line}"


class LaunchError(ValueError):
    """A launch file that cannot be started as written."""

    def __init__(self, where: Where | None, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


def where_of(path: Path, node: Node, key: str) -> Where:
    return Where(path, node.start_mark.line + 1, key)


def plain(node: Node) -> Any:
    """The plain Python value of a composed node (typed like ``yaml.safe_load``)."""
    return SafeConstructor().construct_document(node)


def compose(path: Path) -> Node | None:
    try:
        text = path.read_text()
    except OSError as exc:
        raise LaunchError(Where(path, 1, ""), f"cannot read: {exc}") from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise LaunchError(Where(path, line, ""), f"not valid YAML: {problem}") from None


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def mapping(path: Path, node: Node, key: str) -> dict[str, tuple[Node, Node]]:
    """A mapping's entries as ``name -> (key node, value node)``; duplicates are errors."""
    if not isinstance(node, MappingNode):
        raise LaunchError(where_of(path, node, key), "expected a mapping (key: value)")
    out: dict[str, tuple[Node, Node]] = {}
    for knode, vnode in node.value:
        if not isinstance(knode, ScalarNode):
            raise LaunchError(where_of(path, knode, key), "keys must be plain names")
        name = str(knode.value)
        if name in out:
            first = out[name][0].start_mark.line + 1
            raise LaunchError(where_of(path, knode, join(key, name)),
                              f"duplicate key (first at line {first})")
        out[name] = (knode, vnode)
    return out


def sequence(path: Path, node: Node, key: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise LaunchError(where_of(path, node, key), "expected a list (- item)")
    return list(node.value)


def check_keys(path: Path, entries: dict[str, tuple[Node, Node]], allowed: set[str],
               key: str) -> None:
    for name, (knode, _) in entries.items():
        if name not in allowed:
            raise LaunchError(where_of(path, knode, join(key, name)),
                              f"unknown key (allowed: {', '.join(sorted(allowed))})")
