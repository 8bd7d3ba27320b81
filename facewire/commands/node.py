"""``facewire node run|list|types``: run one node by hand, or see the running ones."""

from __future__ import annotations

import argparse
import json
import logging
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("node", help="run a node by hand, list running nodes")
    inner = p.add_subparsers(dest="node_command", required=True)
    run = inner.add_parser("run", help="run one node against a running registry")
    run.add_argument("type", help="node type (see 'facewire node types') or module:Class")
    run.add_argument("--name", help="node name (default: the type)")
    run.add_argument("--ns", default="/", help="namespace for relative topic names")
    run.add_argument("--param", "-p", action="append", default=[], metavar="K=V")
    run.add_argument("--params-json", default="{}", help="parameters as a JSON object")
    run.add_argument("--remap", "-r", action="append", default=[], metavar="PORT=TOPIC")
    run.add_argument("--registry", help="registry address (default $FACEWIRE_BUS)")
    run.add_argument("--standby", action="store_true",
                     help="import everything, then wait for a line on stdin before joining "
                          "the graph (the launcher's ready replacement; EOF: exit)")
    run.set_defaults(func=run_node)
    ls = inner.add_parser("list", help="running nodes with status and counters")
    ls.add_argument("--registry")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_nodes)
    inner.add_parser("types", help="node types by name").set_defaults(func=list_types)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--{what} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def run_node(args: argparse.Namespace) -> int:
    from facewire.bus.client import RegistryUnreachable
    from facewire.bus.node import ParamError
    from facewire.bus.runners import ProcessRunner
    from facewire.nodes import UnknownNode, load_node_class

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    try:
        given = json.loads(args.params_json)
    except json.JSONDecodeError as exc:
        given = exc
    if not isinstance(given, dict):
        print(f"facewire node run: --params-json {args.params_json[:60]!r} is not a JSON object"
              + (f" ({given})" if isinstance(given, Exception) else "")
              + """; write e.g. '{"rate": 10}'""", file=sys.stderr)
        return 2
    if args.standby:  # imports are most of a start: do them now, join when told
        try:
            load_node_class(args.type)
        except UnknownNode:
            pass  # reported below, once activated
        if not sys.stdin.readline():
            return 0  # the launcher went away or stopped: never needed
    try:
        cls = load_node_class(args.type)
        params = {**given, **_pairs(args.param, "param")}
        node = cls(name=args.name or args.type.rsplit(":", 1)[-1].lower(), namespace=args.ns,
                   params=params, remaps=_pairs(args.remap, "remap"))
        runner = ProcessRunner(node, registry=args.registry)
    except (UnknownNode, ParamError, RegistryUnreachable) as exc:
        print(f"facewire node run: {exc}", file=sys.stderr)
        return 2
    return runner.run()


def list_nodes(args: argparse.Namespace) -> int:
    import zmq

    from facewire.bus.client import RegistryClient, RegistryUnreachable
    from facewire.bus.validate import node_entries

    try:
        client = RegistryClient(zmq.Context.instance(), "facewire-cli", args.registry)
        nodes, bad = node_entries(client.request({"op": "list"}))
        client.close()
    except (RegistryUnreachable, RuntimeError) as exc:
        print(f"facewire node list: {exc}", file=sys.stderr)
        return 2
    if bad:
        print(f"facewire node list: {bad} malformed registry entr{'y' if bad == 1 else 'ies'} "
              "left out or shown as 'bad status' (a node of another facewire version?)",
              file=sys.stderr)
    rows = []
    for n in nodes:
        if n["node"] == "facewire-cli":
            continue
        status = n["status"]
        rows.append({
            "node": n["node"], "host": n["host"], "pid": n["pid"], "age_s": n["age_s"],
            "state": "bad status" if n["bad_status"] else status.state if status else "starting",
            "inputs": status.inputs if status else {},
            "outputs": status.outputs if status else {},
            "counters": status.counters if status else {},
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        print(f"{r['node']}  [{r['state']}]  pid {r['pid']} on {r['host']}, seen {r['age_s']:.1f} s ago")
        for port, topic in {**r["inputs"], **r["outputs"]}.items():
            arrow = "<-" if port in r["inputs"] else "->"
            print(f"    {port} {arrow} {topic}")
        if r["counters"]:
            print("    " + ", ".join(f"{k}={v}" for k, v in sorted(r["counters"].items())))
    return 0


def list_types(args: argparse.Namespace) -> int:
    from facewire.nodes import NODE_TYPES

    for name, target in sorted(NODE_TYPES.items()):
        print(f"{name:16s} {target}")
    return 0
