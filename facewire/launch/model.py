"""Launch files: parse, substitute and validate a YAML graph before any process starts.

A launch file describes; the launcher (``launcher.py``) does. Everything that can be
wrong with a file (unknown node type, missing or unknown arg, a parameter of the wrong
type, duplicate node names, a missing include) is found here, and every error names the
file, the line and the key, so a graph never half-starts. The format is documented in
docs/launch.md.

YAML is read with PyYAML's composer (``yaml.compose``) rather than ``safe_load`` so that
each value keeps its ``start_mark`` (file position) for error messages.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from facewire.bus.addresses import resolve_topic
from facewire.bus.node import ParamError, validate_params, validate_remaps

BUNDLED_DIR = Path(__file__).resolve().parent / "files"

TOP_KEYS = {"args", "namespace", "nodes", "include", "description"}
# A respawned node should flow again within a second of dying: its own start
# takes most of that, so the first back-off is short; it still doubles on quick deaths.
DEFAULT_RESPAWN_DELAY_S = 0.1
NODE_KEYS = {"name", "node", "namespace", "params", "remap", "respawn", "respawn_delay",
             "required", "host", "if", "unless", "standby"}
INCLUDE_KEYS = {"file", "args", "namespace", "host", "if", "unless"}
ARG_KEYS = {"default", "description", "choices"}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
SUBST_RE = re.compile(r"\$\(([a-z]+)((?:\s+[^)]*)?)\)")
MAX_INCLUDE_DEPTH = 16


class _Missing:
    def __repr__(self) -> str:
        return "<required>"


MISSING: Any = _Missing()


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


@dataclass(frozen=True)
class LaunchArg:
    name: str
    default: Any
    description: str
    choices: tuple[Any, ...] | None
    where: Where

    @property
    def required(self) -> bool:
        return self.default is MISSING


@dataclass
class NodeSpec:
    """One node process, fully resolved: what ``facewire node run`` will be given."""

    name: str
    node: str
    namespace: str
    params: dict[str, Any]
    remap: dict[str, str]
    respawn: bool
    respawn_delay: float
    required: bool
    host: str | None
    delay_s: float
    inputs: dict[str, str]  # port -> absolute topic
    outputs: dict[str, str]
    where: Where
    standby: bool = False  # keep a started, idle process ready to take over at once

    @property
    def full_name(self) -> str:
        """``/ns/name``: unique within a launch."""
        return resolve_topic(self.name, self.namespace)

    @property
    def label(self) -> str:
        """The name the process registers and logs under (``ns/name``, or ``name``)."""
        return self.full_name.lstrip("/")

    def command(self, python: str = sys.executable) -> list[str]:
        cmd = [python, "-m", "facewire", "node", "run", self.node, "--name", self.label,
               "--ns", self.namespace, "--params-json", json.dumps(self.params)]
        for port, topic in self.remap.items():
            cmd += ["--remap", f"{port}={topic}"]
        return cmd


@dataclass
class LaunchSpec:
    """A whole launch, includes expanded."""

    file: Path
    args: dict[str, LaunchArg]  # the top file's declared args
    values: dict[str, Any]  # their values for this launch
    nodes: list[NodeSpec] = field(default_factory=list)
    description: str = ""

    @property
    def hosts(self) -> list[str]:
        return sorted({n.host for n in self.nodes if n.host})

    def nodes_for(self, host: str | None) -> list[NodeSpec]:
        """Nodes one launcher starts: ``host=None`` is the primary (nodes without host)."""
        return [n for n in self.nodes if n.host == host]


# -- finding files ------------------------------------------------------------------------
def bundled_files() -> list[str]:
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml"))


def resolve_file(name: str, base: Path | None = None) -> Path:
    """A path (relative to ``base`` or the cwd), else a bundled file by bare name."""
    candidate = Path(name).expanduser()
    if not candidate.is_absolute() and base is not None:
        candidate = base / candidate
    if candidate.is_file():
        return candidate.resolve()
    stem = Path(name).name.removesuffix(".yaml").removesuffix(".yml")
    bundled = BUNDLED_DIR / f"{stem}.yaml"
    if Path(name).parent == Path(".") and bundled.is_file():
        return bundled
    raise FileNotFoundError(
        f"launch file {name!r} not found (bundled: {', '.join(bundled_files()) or 'none'})"
    )


# -- YAML with positions ------------------------------------------------------------------
def _where(path: Path, node: Node, key: str) -> Where:
    return Where(path, node.start_mark.line + 1, key)


def _value(node: Node) -> Any:
    """The plain Python value of a composed node (typed like ``yaml.safe_load``)."""
    return SafeConstructor().construct_document(node)


def _compose(path: Path) -> Node | None:
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


def _mapping(path: Path, node: Node, key: str) -> dict[str, tuple[Node, Node]]:
    """A mapping's entries as ``name -> (key node, value node)``; duplicates are errors."""
    if not isinstance(node, MappingNode):
        raise LaunchError(_where(path, node, key), "expected a mapping (key: value)")
    out: dict[str, tuple[Node, Node]] = {}
    for knode, vnode in node.value:
        if not isinstance(knode, ScalarNode):
            raise LaunchError(_where(path, knode, key), "keys must be plain names")
        name = str(knode.value)
        if name in out:
            first = out[name][0].start_mark.line + 1
            raise LaunchError(_where(path, knode, _join(key, name)),
                              f"duplicate key (first at line {first})")
        out[name] = (knode, vnode)
    return out


def _sequence(path: Path, node: Node, key: str) -> list[Node]:
    if not isinstance(node, SequenceNode):
        raise LaunchError(_where(path, node, key), "expected a list (- item)")
    return list(node.value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _check_keys(path: Path, entries: dict[str, tuple[Node, Node]], allowed: set[str],
                key: str) -> None:
    for name, (knode, _) in entries.items():
        if name not in allowed:
            raise LaunchError(_where(path, knode, _join(key, name)),
                              f"unknown key (allowed: {', '.join(sorted(allowed))})")


# -- substitution -------------------------------------------------------------------------
def _getter(path: Path, item: Node, key: str, entries: dict[str, tuple[Node, Node]],
            ctx: Any) -> Callable[..., tuple[Any, Where]]:
    """``get(name, default)`` for one mapping: the substituted value and where it stands."""

    def get(name: str, default: Any = None) -> tuple[Any, Where]:
        if name not in entries:
            return default, _where(path, item, _join(key, name))
        vnode = entries[name][1]
        where = _where(path, vnode, _join(key, name))
        return ctx.sub(_value(vnode), where), where

    return get


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class _Context:
    """What substitutions in one file see: its args and its folder."""

    def __init__(self, path: Path, values: dict[str, Any]) -> None:
        self.path = path
        self.values = values

    def one(self, command: str, rest: str, where: Where) -> Any:
        words = rest.split()
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
                return rest.strip()[len(name):].strip()
            raise LaunchError(where, f"$(env {name}): environment variable {name} is not set "
                                     "(give a default: $(env NAME default))")
        if command == "dirname":
            return str(self.path.parent)
        raise LaunchError(where, f"unknown substitution $({command} ...) "
                                 "(known: arg, env, dirname)")

    def sub(self, value: Any, where: Where) -> Any:
        """Substitute in every string inside ``value``; a lone substitution keeps its type."""
        if isinstance(value, str):
            whole = SUBST_RE.fullmatch(value)
            if whole:
                return self.one(whole.group(1), whole.group(2), where)
            return SUBST_RE.sub(
                lambda m: _format(self.one(m.group(1), m.group(2), where)), value)
        if isinstance(value, list):
            return [self.sub(v, where) for v in value]
        if isinstance(value, dict):
            return {k: self.sub(v, where) for k, v in value.items()}
        return value


def _truthy(value: Any, where: Where) -> bool:
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


# -- the loader ---------------------------------------------------------------------------
@dataclass
class _Given:
    """Arg values handed to a file: from the command line or an include entry."""

    values: dict[str, Any]
    where: dict[str, Where]
    from_cli: bool


class _Loader:
    def __init__(self) -> None:
        self.nodes: list[NodeSpec] = []
        self.top_args: dict[str, LaunchArg] = {}
        self.top_values: dict[str, Any] = {}
        self.description = ""

    def load_file(self, path: Path, given: _Given, namespace: str, host: str | None,
                  stack: tuple[Path, ...], include_where: Where | None) -> None:
        if path in stack:
            chain = " -> ".join(p.name for p in (*stack, path))
            raise LaunchError(include_where, f"include cycle: {chain}")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise LaunchError(include_where, "includes nested too deep")
        root = _compose(path)
        if root is None:
            raise LaunchError(Where(path, 1, ""), "empty launch file")
        top = _mapping(path, root, "")
        _check_keys(path, top, TOP_KEYS, "")
        args = self._declared_args(path, top)
        values = self._arg_values(path, top, args, given, include_where)
        ctx = _Context(path, values)
        if not stack:
            self.top_args, self.top_values = args, values
            if "description" in top:
                self.description = str(_value(top["description"][1]) or "")
        if "namespace" in top:
            knode, vnode = top["namespace"]
            own = ctx.sub(_value(vnode), _where(path, vnode, "namespace"))
            namespace = self._namespace(own, namespace, _where(path, vnode, "namespace"))
        if "nodes" in top:
            for i, item in enumerate(_sequence(path, top["nodes"][1], "nodes")):
                self._node(path, item, f"nodes[{i}]", ctx, namespace, host)
        if "include" in top:
            for i, item in enumerate(_sequence(path, top["include"][1], "include")):
                self._include(path, item, f"include[{i}]", ctx, namespace, host, stack)

    @staticmethod
    def _namespace(own: Any, outer: str, where: Where) -> str:
        if own is None or own == "":
            return outer
        if not isinstance(own, str):
            raise LaunchError(where, f"namespace must be text, got {own!r}")
        parts = [p for p in own.split("/") if p]
        for part in parts:
            if not NAME_RE.match(part):
                raise LaunchError(where, f"bad namespace {own!r}: parts are letters, digits, "
                                         "_ and -")
        return resolve_topic(own, outer) if parts else "/"

    def _declared_args(self, path: Path, top: dict[str, tuple[Node, Node]]
                       ) -> dict[str, LaunchArg]:
        if "args" not in top:
            return {}
        out: dict[str, LaunchArg] = {}
        for name, (knode, vnode) in _mapping(path, top["args"][1], "args").items():
            where = _where(path, knode, f"args.{name}")
            if not NAME_RE.match(name):
                raise LaunchError(where, "arg names are letters, digits, _ and -")
            default, description, choices = MISSING, "", None
            if isinstance(vnode, MappingNode):
                spec = _mapping(path, vnode, f"args.{name}")
                _check_keys(path, spec, ARG_KEYS, f"args.{name}")
                if "default" in spec:
                    default = _value(spec["default"][1])
                description = str(_value(spec["description"][1]) or "") \
                    if "description" in spec else ""
                if "choices" in spec:
                    raw = _value(spec["choices"][1])
                    if not isinstance(raw, list):
                        raise LaunchError(_where(path, spec["choices"][1],
                                                 f"args.{name}.choices"), "expected a list")
                    choices = tuple(raw)
            elif isinstance(vnode, ScalarNode) and vnode.tag == "tag:yaml.org,2002:null":
                pass  # `name:` with nothing: required
            else:
                default = _value(vnode)
            out[name] = LaunchArg(name, default, description, choices, where)
        return out

    def _arg_values(self, path: Path, top: dict[str, tuple[Node, Node]],
                    args: dict[str, LaunchArg], given: _Given,
                    include_where: Where | None) -> dict[str, Any]:
        args_line = top["args"][0].start_mark.line + 1 if "args" in top else 1
        for name in given.values:
            if name not in args:
                declared = ", ".join(sorted(args)) or "none"
                where = given.where.get(name) or Where(path, args_line, f"--arg {name}")
                raise LaunchError(where, f"unknown arg {name!r} for {path.name} "
                                         f"(declared: {declared})")
        values: dict[str, Any] = {}
        ctx = _Context(path, values)  # defaults may use earlier args and $(env ...)
        for name, arg in args.items():
            if name in given.values:
                value = given.values[name]
                if given.from_cli and isinstance(value, str):
                    value = parse_cli_value(value, arg.default)
            elif arg.required:
                if include_where is not None:
                    raise LaunchError(include_where, f"{path.name} needs arg {name!r} "
                                                     f"(declared at {arg.where}), not given")
                hint = f": {arg.description}" if arg.description else ""
                raise LaunchError(arg.where, f"arg {name!r} is required{hint}; "
                                             f"give --arg {name}=VALUE")
            else:
                value = ctx.sub(arg.default, arg.where)
            if arg.choices is not None and value not in arg.choices:
                where = given.where.get(name) or arg.where
                raise LaunchError(where, f"arg {name!r} must be one of {list(arg.choices)}, "
                                         f"got {value!r}")
            values[name] = value
        return values

    def _node(self, path: Path, item: Node, key: str, ctx: _Context, namespace: str,
              host: str | None) -> None:
        from facewire.nodes import UnknownNode, load_node_class

        entries = _mapping(path, item, key)
        if "name" in entries and isinstance(entries["name"][1], ScalarNode):
            key = f"{key}({entries['name'][1].value})"  # messages name the node
        _check_keys(path, entries, NODE_KEYS, key)

        get = _getter(path, item, key, entries, ctx)

        if not self._enabled(get):
            return
        for required in ("name", "node"):
            if required not in entries:
                raise LaunchError(_where(path, item, key), f"a node needs '{required}:'")
        name, where = get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise LaunchError(where, f"bad node name {name!r}: letters, digits, _ and -")
        node_type, type_where = get("node")
        if not isinstance(node_type, str):
            raise LaunchError(type_where, f"node type must be text, got {node_type!r}")
        try:
            cls = load_node_class(node_type)
        except UnknownNode as exc:
            raise LaunchError(type_where, str(exc)) from None
        ns_value, ns_where = get("namespace")
        ns = self._namespace(ns_value, namespace, ns_where)
        params = self._params(path, entries, key, ctx, cls)
        remap = self._remap(path, entries, key, ctx, cls)
        respawn, w = get("respawn", False)
        respawn = _truthy(respawn, w)
        required_flag, w = get("required", False)
        required_flag = _truthy(required_flag, w)
        delay, w = get("respawn_delay", DEFAULT_RESPAWN_DELAY_S)
        if isinstance(delay, str):
            delay = parse_cli_value(delay, None)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise LaunchError(w, f"respawn_delay must be seconds >= 0, got {delay!r}")
        standby, w = get("standby", False)
        standby = _truthy(standby, w)
        if standby and not respawn:
            raise LaunchError(w, "standby: true needs respawn: true (a standby process "
                                 "takes over when the node dies)")
        node_host, w = get("host", host)
        if node_host is not None and not isinstance(node_host, str):
            raise LaunchError(w, f"host must be text, got {node_host!r}")
        spec = NodeSpec(
            name=name, node=node_type, namespace=ns, params=params, remap=remap,
            respawn=respawn, respawn_delay=float(delay), required=required_flag,
            host=node_host or None, delay_s=float(getattr(cls, "delay_s", 0.0)),
            inputs={p: resolve_topic(remap.get(p, p), ns) for p in cls.inputs},
            outputs={p: resolve_topic(remap.get(p, p), ns) for p in cls.outputs},
            where=_where(path, item, key), standby=standby,
        )
        for other in self.nodes:
            if other.full_name == spec.full_name:
                raise LaunchError(where, f"duplicate node name {spec.full_name} "
                                         f"(first at {other.where})")
        self.nodes.append(spec)

    @staticmethod
    def _enabled(get: Any) -> bool:
        cond, where = get("if", True)
        if not _truthy(cond, where):
            return False
        cond, where = get("unless", False)
        return not _truthy(cond, where)

    @staticmethod
    def _params(path: Path, entries: dict[str, tuple[Node, Node]], key: str, ctx: _Context,
                cls: type) -> dict[str, Any]:
        if "params" not in entries:
            return validate_params(cls, {})
        given: dict[str, Any] = {}
        for pname, (knode, vnode) in _mapping(path, entries["params"][1],
                                              _join(key, "params")).items():
            where = _where(path, knode, f"{key}.params.{pname}")
            value = ctx.sub(_value(vnode), where)
            try:
                given[pname] = validate_params(cls, {pname: value})[pname]
            except ParamError as exc:
                text = str(exc)
                if not text.startswith(cls.__name__):
                    text = f"{cls.__name__}: {text}"
                raise LaunchError(where, text) from None
            try:
                json.dumps(given[pname])
            except (TypeError, ValueError):
                raise LaunchError(where, f"value {value!r} cannot be passed to a node "
                                         "(use numbers, text, booleans and lists)") from None
        return validate_params(cls, given)

    @staticmethod
    def _remap(path: Path, entries: dict[str, tuple[Node, Node]], key: str, ctx: _Context,
               cls: type) -> dict[str, str]:
        if "remap" not in entries:
            return {}
        out: dict[str, str] = {}
        for port, (knode, vnode) in _mapping(path, entries["remap"][1],
                                             _join(key, "remap")).items():
            where = _where(path, knode, f"{key}.remap.{port}")
            try:
                validate_remaps(cls, {port: ""})
            except ParamError as exc:
                raise LaunchError(where, str(exc)) from None
            topic = ctx.sub(_value(vnode), where)
            if not isinstance(topic, str) or not topic.strip():
                raise LaunchError(where, f"remap target must be a topic name, got {topic!r}")
            out[port] = topic.strip()
        return out

    def _include(self, path: Path, item: Node, key: str, ctx: _Context, namespace: str,
                 host: str | None, stack: tuple[Path, ...]) -> None:
        entries = _mapping(path, item, key)
        _check_keys(path, entries, INCLUDE_KEYS, key)
        if "file" not in entries:
            raise LaunchError(_where(path, item, key), "an include needs 'file:'")

        get = _getter(path, item, key, entries, ctx)

        if not self._enabled(get):
            return
        name, file_where = get("file")
        if not isinstance(name, str):
            raise LaunchError(file_where, f"file must be a path, got {name!r}")
        try:
            target = resolve_file(name, base=path.parent)
        except FileNotFoundError:
            raise LaunchError(file_where, f"include file {name!r} not found (looked in "
                                          f"{path.parent} and the bundled files)") from None
        given_values: dict[str, Any] = {}
        given_where: dict[str, Where] = {}
        if "args" in entries:
            for aname, (knode, vnode) in _mapping(path, entries["args"][1],
                                                  _join(key, "args")).items():
                where = _where(path, knode, f"{key}.args.{aname}")
                given_values[aname] = ctx.sub(_value(vnode), where)
                given_where[aname] = where
        ns_value, ns_where = get("namespace")
        inner_ns = self._namespace(ns_value, namespace, ns_where)
        inc_host, w = get("host", host)
        if inc_host is not None and not isinstance(inc_host, str):
            raise LaunchError(w, f"host must be text, got {inc_host!r}")
        self.load_file(target, _Given(given_values, given_where, from_cli=False), inner_ns,
                       inc_host or None, (*stack, path), file_where)


def load(name: str | os.PathLike[str], args: dict[str, str] | None = None) -> LaunchSpec:
    """Read, substitute and validate a launch file; raises LaunchError or FileNotFoundError.

    ``args`` are ``--arg k=v`` values as text; they are typed like YAML unless the arg's
    default is text.
    """
    path = resolve_file(str(name))
    loader = _Loader()
    loader.load_file(path, _Given(dict(args or {}), {}, from_cli=True), "/", None, (), None)
    return LaunchSpec(file=path, args=loader.top_args, values=loader.top_values,
                      nodes=loader.nodes, description=loader.description)


def graph_delay(nodes: list[NodeSpec]) -> tuple[float, list[str]]:
    """The largest sum of ``delay_s`` along any path of the graph, and that path's nodes.

    Edges go from a node's output topic to every node subscribing to it; cycles are cut.
    Exhaustive over simple paths: fine for the dozen-node graphs launch files describe.
    """
    by_topic: dict[str, list[NodeSpec]] = {}
    for n in nodes:
        for topic in n.inputs.values():
            by_topic.setdefault(topic, []).append(n)

    def walk(n: NodeSpec, seen: frozenset[str]) -> tuple[float, list[str]]:
        tail: tuple[float, list[str]] = (0.0, [])
        for topic in n.outputs.values():
            for nxt in by_topic.get(topic, []):
                if nxt.full_name in seen:
                    continue
                cand = walk(nxt, seen | {n.full_name})
                if cand[0] > tail[0] or (cand[0] == tail[0] and len(cand[1]) > len(tail[1])):
                    tail = cand
        return n.delay_s + tail[0], [n.label, *tail[1]]

    total: tuple[float, list[str]] = (0.0, [])
    for n in nodes:
        cand = walk(n, frozenset())
        if cand[0] > total[0] or (cand[0] == total[0] and len(cand[1]) > len(total[1])):
            total = cand
    return total
