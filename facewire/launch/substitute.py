"""Substitutions in launch-file values: ``$(arg NAME)``, ``$(env NAME [default])``,
``$(dirname)`` and ``$(eq A B)``; they nest (``$(eq $(arg engine) vmc)``).

A value that is entirely one substitution keeps its type (``rate: $(arg rate)`` stays a
number); inside longer text the value is formatted (booleans as ``true``/``false``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from facewire.launch.where import LaunchError, Where

COMMANDS = ("arg", "env", "dirname", "eq")
_NAME = re.compile(r"[a-z]+")


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def truthy(value: Any, where: Where) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0", ""):
        return False
    raise LaunchError(where, f"expected true or false, got {value!r}")


def parse_cli_value(text: str, default: Any) -> Any:
    """``--arg k=v``: typed like YAML (``rate=20`` is a number) unless the default is text."""
    if isinstance(default, str):
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float, str)) or value is None else text


class Context:
    """What substitutions in one file see: its args and its folder."""

    def __init__(self, path: Path, values: dict[str, Any]) -> None:
        self.path = path
        self.values = values

    def one(self, command: str, words: list[str], where: Where) -> Any:
        if command == "arg":
            if len(words) != 1:
                raise LaunchError(where, "use $(arg NAME)")
            if words[0] not in self.values:
                declared = ", ".join(sorted(self.values)) or "none"
                raise LaunchError(where, f"$(arg {words[0]}): no such arg is declared in this "
                                         f"file's args: (declared: {declared})")
            return self.values[words[0]]
        if command == "env":
            if not words:
                raise LaunchError(where, "use $(env NAME) or $(env NAME default)")
            name = words[0]
            if name in os.environ:
                return os.environ[name]
            if len(words) > 1:
                return " ".join(words[1:])
            raise LaunchError(where, f"$(env {name}): environment variable {name} is not set "
                                     "(give a default: $(env NAME default))")
        if command == "dirname":
            return str(self.path.parent)
        if command == "eq":
            if len(words) != 2:
                raise LaunchError(where, f"use $(eq A B) (two words), got {words}")
            return words[0] == words[1]
        raise LaunchError(where, f"unknown substitution $({command} ...) "
                                 f"(known: {', '.join(COMMANDS)})")

    def sub(self, value: Any, where: Where) -> Any:
        """Substitute in every string inside ``value``; a lone substitution keeps its type."""
        if isinstance(value, str):
            return self._text(value, where)
        if isinstance(value, list):
            return [self.sub(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.sub(v, where) for k, v in value.items()}
        return value

    def _text(self, text: str, where: Where) -> Any:
        pieces: list[str] = []
        pos = 0
        while (start := self._next(text, pos)) >= 0:
            value, end = self._call(text, start, where)
            if start == 0 and end == len(text):
                return value  # the whole value is one substitution: keep its type
            pieces += [text[pos:start], format_value(value)]
            pos = end
        return "".join([*pieces, text[pos:]])

    @staticmethod
    def _next(text: str, pos: int) -> int:
        """Where the next ``$(name`` starts (text such as ``$(5`` stays literal), or -1."""
        while (start := text.find("$(", pos)) >= 0:
            name = _NAME.match(text, start + 2)
            if name and name.end() < len(text) and (text[name.end()] == ")"
                                                    or text[name.end()].isspace()):
                return start
            pos = start + 2
        return -1

    def _call(self, text: str, start: int, where: Where) -> tuple[Any, int]:
        """The substitution at ``text[start]`` (``$(``) and the index after its ``)``."""
        command = _NAME.match(text, start + 2)
        assert command is not None
        i = command.end()
        words: list[str] = []
        word: str | None = None
        while i < len(text):
            if text[i] == ")":
                return self.one(command.group(), [*words, *([word] if word is not None else [])],
                                where), i + 1
            if self._next(text, i) == i:
                value, i = self._call(text, i, where)
                word = (word or "") + format_value(value)
                continue
            if text[i].isspace():
                if word is not None:
                    words.append(word)
                word = None
            else:
                word = (word or "") + text[i]
            i += 1
        raise LaunchError(where, f"$({command.group()} ...: no closing ')'")
