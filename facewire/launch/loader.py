"""Loading launch files: find a file, read its args, nodes and includes into a LaunchSpec.

A launch file describes; the launcher (``launcher.py``) does. Everything that can be
wrong with a file (unknown node type or port, missing or unknown arg, a parameter of the
wrong type, duplicate node names, a missing include) is found here, and every error names
the file, the line and the key, so a graph never half-starts. The format is documented in
docs/launch.md.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from facewire.bus.addresses import resolve_topic
from facewire.bus.node import ParamError, validate_params, validate_remaps
from facewire.launch.spec import MISSING, LaunchArg, LaunchSpec, NodeSpec
from facewire.launch.substitute import Context, parse_cli_value, truthy
from facewire.launch.where import (
    LaunchError,
    Where,
    check_keys,
    compose,
    join,
    mapping,
    plain,
    sequence,
    where_of,
)

BUNDLED_DIR = Path(__file__).resolve().parent / "files"

TOP_KEYS = {"args", "namespace", "nodes", "include", "description"}
# A respawned node should flow again within a second of dying: its own start
# takes most of that, so the first back-off is short; it still doubles on quick deaths.
DEFAULT_RESPAWN_DELAY_S = 0.1
NODE_KEYS = {"name", "node", "namespace", "params", "inputs", "outputs", "remap", "respawn",
             "respawn_delay", "required", "host", "if", "unless", "standby"}
INCLUDE_KEYS = {"file", "args", "namespace", "host", "if", "unless", "insert"}
INSERT_KEYS = NODE_KEYS | {"between", "after"}
ARG_KEYS = {"default", "description", "choices"}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
MAX_INCLUDE_DEPTH = 16
Entries = dict[str, tuple[Node, Node]]


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


def _getter(path: Path, item: Node, key: str, entries: Entries,
            ctx: Context) -> Callable[..., tuple[Any, Where]]:
    """``get(name, default)`` for one mapping: the substituted value and where it stands."""

    def get(name: str, default: Any = None) -> tuple[Any, Where]:
        if name not in entries:
            return default, where_of(path, item, join(key, name))
        vnode = entries[name][1]
        where = where_of(path, vnode, join(key, name))
        return ctx.sub(plain(vnode), where), where

    return get


def _enabled(get: Callable[..., tuple[Any, Where]]) -> bool:
    cond, where = get("if", True)
    if not truthy(cond, where):
        return False
    cond, where = get("unless", False)
    return not truthy(cond, where)


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
        self.name_where: dict[int, Where] = {}  # id(spec) -> where its name stands

    def load_file(self, path: Path, given: _Given, namespace: str, host: str | None,
                  stack: tuple[Path, ...], include_where: Where | None) -> None:
        if path in stack:
            chain = " -> ".join(p.name for p in (*stack, path))
            raise LaunchError(include_where, f"include cycle: {chain}")
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise LaunchError(include_where, "includes nested too deep")
        root = compose(path)
        if root is None:
            raise LaunchError(Where(path, 1, ""), "empty launch file")
        top = mapping(path, root, "")
        check_keys(path, top, TOP_KEYS, "")
        args = self._declared_args(path, top)
        values = self._arg_values(path, top, args, given, include_where)
        ctx = Context(path, values)
        if not stack:
            self.top_args, self.top_values = args, values
            if "description" in top:
                self.description = str(plain(top["description"][1]) or "")
        if "namespace" in top:
            knode, vnode = top["namespace"]
            own = ctx.sub(plain(vnode), where_of(path, vnode, "namespace"))
            namespace = _namespace(own, namespace, where_of(path, vnode, "namespace"))
        if "nodes" in top:
            for i, item in enumerate(sequence(path, top["nodes"][1], "nodes")):
                spec = self._node(path, item, f"nodes[{i}]", ctx, namespace, host, NODE_KEYS)
                if spec is not None:
                    self._add(spec, len(self.nodes))
        if "include" in top:
            for i, item in enumerate(sequence(path, top["include"][1], "include")):
                self._include(path, item, f"include[{i}]", ctx, namespace, host, stack)

    def _add(self, spec: NodeSpec, at: int) -> None:
        for other in self.nodes:
            if other.full_name == spec.full_name:
                raise LaunchError(self.name_where.get(id(spec), spec.where), f"duplicate node name {spec.full_name} "
                                              f"(first at {other.where})")
        self.nodes.insert(at, spec)

    # -- args -----------------------------------------------------------------------------
    def _declared_args(self, path: Path, top: Entries) -> dict[str, LaunchArg]:
        if "args" not in top:
            return {}
        out: dict[str, LaunchArg] = {}
        for name, (knode, vnode) in mapping(path, top["args"][1], "args").items():
            where = where_of(path, knode, f"args.{name}")
            if not NAME_RE.match(name):
                raise LaunchError(where, "arg names are letters, digits, _ and -")
            default, description, choices = MISSING, "", None
            if isinstance(vnode, MappingNode):
                spec = mapping(path, vnode, f"args.{name}")
                check_keys(path, spec, ARG_KEYS, f"args.{name}")
                if "default" in spec:
                    default = plain(spec["default"][1])
                description = str(plain(spec["description"][1]) or "") \
                    if "description" in spec else ""
                if "choices" in spec:
                    raw = plain(spec["choices"][1])
                    if not isinstance(raw, list):
                        raise LaunchError(where_of(path, spec["choices"][1],
                                                   f"args.{name}.choices"), "expected a list")
                    choices = tuple(raw)
            elif isinstance(vnode, ScalarNode) and vnode.tag == "tag:yaml.org,2002:null":
                pass  # `name:` with nothing: required
            else:
                default = plain(vnode)
            out[name] = LaunchArg(name, default, description, choices, where)
        return out

    def _arg_values(self, path: Path, top: Entries, args: dict[str, LaunchArg], given: _Given,
                    include_where: Where | None) -> dict[str, Any]:
        args_line = top["args"][0].start_mark.line + 1 if "args" in top else 1
        for name in given.values:
            if name not in args:
                declared = ", ".join(sorted(args)) or "none"
                where = given.where.get(name) or Where(path, args_line, f"--arg {name}")
                raise LaunchError(where, f"unknown arg {name!r} for {path.name} "
                                         f"(declared: {declared})")
        values: dict[str, Any] = {}
        ctx = Context(path, values)  # defaults may use earlier args and $(env ...)
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

    # -- nodes ----------------------------------------------------------------------------
    def _node(self, path: Path, item: Node, key: str, ctx: Context, namespace: str,
              host: str | None, allowed: set[str]) -> NodeSpec | None:
        """One node entry, resolved (None when its ``if``/``unless`` turns it off)."""
        from facewire.nodes import UnknownNode, load_node_class

        entries = mapping(path, item, key)
        if "name" in entries and isinstance(entries["name"][1], ScalarNode):
            key = f"{key}({entries['name'][1].value})"  # messages name the node
        check_keys(path, entries, allowed, key)

        get = _getter(path, item, key, entries, ctx)

        if not _enabled(get):
            return None
        for required in ("name", "node"):
            if required not in entries:
                raise LaunchError(where_of(path, item, key), f"a node needs '{required}:'")
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
        ns = _namespace(ns_value, namespace, ns_where)
        params = self._params(path, entries, key, ctx, cls)
        remap = self._wiring(path, entries, key, ctx, cls)
        respawn, w = get("respawn", False)
        respawn = truthy(respawn, w)
        required_flag, w = get("required", False)
        required_flag = truthy(required_flag, w)
        delay, w = get("respawn_delay", DEFAULT_RESPAWN_DELAY_S)
        if isinstance(delay, str):
            delay = parse_cli_value(delay, None)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise LaunchError(w, f"respawn_delay must be seconds >= 0, got {delay!r}")
        standby, w = get("standby", False)
        standby = truthy(standby, w)
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
            where=where_of(path, item, key), standby=standby,
            implicit=tuple(p for p in (*cls.inputs, *cls.outputs) if p not in remap),
        )
        self.name_where[id(spec)] = where
        return spec

    @staticmethod
    def _params(path: Path, entries: Entries, key: str, ctx: Context,
                cls: type) -> dict[str, Any]:
        if "params" not in entries:
            return validate_params(cls, {})
        given: dict[str, Any] = {}
        for pname, (knode, vnode) in mapping(path, entries["params"][1],
                                             join(key, "params")).items():
            where = where_of(path, knode, f"{key}.params.{pname}")
            value = ctx.sub(plain(vnode), where)
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
    def _wiring(path: Path, entries: Entries, key: str, ctx: Context,
                cls: Any) -> dict[str, str]:
        """``port -> topic`` from ``inputs:``, ``outputs:`` and ``remap:`` (either kind)."""
        out: dict[str, str] = {}
        first: dict[str, Where] = {}
        kinds = {"inputs": cls.inputs, "outputs": cls.outputs,
                 "remap": {**cls.inputs, **cls.outputs}}
        for section, ports in kinds.items():
            if section not in entries:
                continue
            for port, (knode, vnode) in mapping(path, entries[section][1],
                                                join(key, section)).items():
                where = where_of(path, knode, f"{key}.{section}.{port}")
                if section == "remap":
                    try:
                        validate_remaps(cls, {port: ""})
                    except ParamError as exc:
                        raise LaunchError(where, str(exc)) from None
                elif port not in ports:
                    raise LaunchError(where, f"{cls.__name__} has no {section[:-1]} port "
                                             f"{port!r} ({_ports(cls)})")
                if port in first:
                    raise LaunchError(where, f"port {port!r} is wired twice (first at "
                                             f"{first[port]})")
                topic = ctx.sub(plain(vnode), where)
                if not isinstance(topic, str) or not topic.strip():
                    raise LaunchError(where, f"{section} target must be a topic name, "
                                             f"got {topic!r}")
                out[port] = topic.strip()
                first[port] = where
        return out

    # -- includes -------------------------------------------------------------------------
    def _include(self, path: Path, item: Node, key: str, ctx: Context, namespace: str,
                 host: str | None, stack: tuple[Path, ...]) -> None:
        entries = mapping(path, item, key)
        check_keys(path, entries, INCLUDE_KEYS, key)
        if "file" not in entries:
            raise LaunchError(where_of(path, item, key), "an include needs 'file:'")

        get = _getter(path, item, key, entries, ctx)

        if not _enabled(get):
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
            for aname, (knode, vnode) in mapping(path, entries["args"][1],
                                                 join(key, "args")).items():
                where = where_of(path, knode, f"{key}.args.{aname}")
                given_values[aname] = ctx.sub(plain(vnode), where)
                given_where[aname] = where
        ns_value, ns_where = get("namespace")
        inner_ns = _namespace(ns_value, namespace, ns_where)
        inc_host, w = get("host", host)
        if inc_host is not None and not isinstance(inc_host, str):
            raise LaunchError(w, f"host must be text, got {inc_host!r}")
        before = len(self.nodes)
        self.load_file(target, _Given(given_values, given_where, from_cli=False), inner_ns,
                       inc_host or None, (*stack, path), file_where)
        if "insert" in entries:
            included = self.nodes[before:]
            for i, node in enumerate(sequence(path, entries["insert"][1], join(key, "insert"))):
                self._insert(path, node, f"{key}.insert[{i}]", ctx, inner_ns, inc_host or None,
                             included)

    def _insert(self, path: Path, item: Node, key: str, ctx: Context, namespace: str,
                host: str | None, included: list[NodeSpec]) -> None:
        """A node put on the edge ``between: [A, B]`` of the included graph: it reads the
        topic A publishes to B, and B's port on that topic now reads the new node's output
        of the same message type."""
        from facewire.nodes import load_node_class

        spec = self._node(path, item, key, ctx, namespace, host, INSERT_KEYS)
        if spec is None:
            return
        entries = mapping(path, item, key)
        key = spec.where.key
        if "after" in entries and "between" not in entries:
            self._append(path, entries, key, ctx, namespace, spec, included)
            return
        if "between" not in entries or "after" in entries:
            raise LaunchError(where_of(path, item, key),
                              "an insert needs 'between: [FROM, TO]' (two nodes of the "
                              "included graph) or 'after: NODE' (a node whose output it "
                              "takes over)")
        where = where_of(path, entries["between"][1], f"{key}.between")
        pair = ctx.sub(plain(entries["between"][1]), where)
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str)
                                                                  for n in pair)):
            raise LaunchError(where, f"between must be two node names, got {pair!r}")
        by_name = {n.full_name: n for n in included}
        ends = []
        for name in pair:
            node = by_name.get(resolve_topic(name, namespace))
            if node is None:
                names = ", ".join(n.name for n in included) or "none"
                raise LaunchError(where, f"no node {name!r} in the included graph "
                                         f"(nodes: {names})")
            ends.append(node)
        src, dst = ends
        edge = [t for t in dict.fromkeys(src.outputs.values()) if t in dst.inputs.values()]
        if len(edge) != 1:
            raise LaunchError(where, f"{src.name} and {dst.name} must share one topic "
                                     f"({src.name} publishes {sorted(src.outputs.values())}, "
                                     f"{dst.name} reads {sorted(dst.inputs.values())})")
        topic = edge[0]
        if topic not in spec.inputs.values():
            raise LaunchError(where, f"{spec.name} must read {topic} (the edge it is inserted "
                                     f"on) on one of its inputs")
        new_cls, dst_cls = load_node_class(spec.node), load_node_class(dst.node)
        for port in [p for p, t in dst.inputs.items() if t == topic]:
            wanted = dst_cls.inputs[port].type
            outs = [o for o, out in new_cls.outputs.items() if out.type is wanted]
            if len(outs) != 1:
                raise LaunchError(where, f"{spec.name} needs exactly one output of type "
                                         f"{wanted.__name__} to feed {dst.name}.{port}, "
                                         f"has {outs}")
            dst.inputs[port] = dst.remap[port] = spec.outputs[outs[0]]
            dst.implicit = tuple(p for p in dst.implicit if p != port)
        self._add(spec, self.nodes.index(src) + 1)


    def _append(self, path: Path, entries: dict[str, tuple[Node, Node]], key: str,
                ctx: Context, namespace: str, spec: NodeSpec,
                included: list[NodeSpec]) -> None:
        """A node put ``after: A`` at an end of the included graph: it publishes the topic A
        published (so what read A's output now reads the new node's), and A's output of that
        message type is rewired to the new node's input of the same type."""
        from facewire.nodes import load_node_class

        where = where_of(path, entries["after"][1], f"{key}.after")
        name = ctx.sub(plain(entries["after"][1]), where)
        by_name = {n.full_name: n for n in included}
        src = by_name.get(resolve_topic(str(name), namespace))
        if src is None:
            names = ", ".join(n.name for n in included) or "none"
            raise LaunchError(where, f"no node {name!r} in the included graph (nodes: {names})")
        src_cls, new_cls = load_node_class(src.node), load_node_class(spec.node)
        taken = [(port, topic) for port, topic in src.outputs.items()
                 if topic in spec.outputs.values()]
        if len(taken) != 1:
            raise LaunchError(where, f"{spec.name} must publish one topic of {src.name} "
                                     f"({sorted(src.outputs.values())}) to take it over")
        port, topic = taken[0]
        wanted = src_cls.outputs[port].type
        feeds = [p for p, inp in new_cls.inputs.items() if inp.type is wanted]
        if len(feeds) != 1 or spec.inputs.get(feeds[0]) in (None, topic):
            raise LaunchError(where, f"{spec.name} needs one {wanted.__name__} input on a new "
                                     f"topic for {src.name}.{port} to feed")
        src.outputs[port] = src.remap[port] = spec.inputs[feeds[0]]
        src.implicit = tuple(p for p in src.implicit if p != port)
        self._add(spec, self.nodes.index(src) + 1)


def _ports(cls: Any) -> str:
    ins = ", ".join(cls.inputs) or "none"
    outs = ", ".join(cls.outputs) or "none"
    return f"inputs: {ins}; outputs: {outs}"


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
