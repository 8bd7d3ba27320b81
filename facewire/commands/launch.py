"""``facewire launch FILE``: start a graph from a launch file and supervise it.

The whole file is validated first; nothing starts when anything is wrong. Without
``--host`` this launcher is the primary: it runs the nodes that name no host and owns the
registry (a fresh one, or the one ``--registry``/FACEWIRE_BUS names if it answers, or a new
one started at that address). ``--host NAME`` runs only that host's nodes and connects to
the primary's registry, which must answer.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from facewire.bus.addresses import REGISTRY_ENV

SECONDARY_WAIT_S = 5.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="start a node graph from a launch file",
                       description=(__doc__ or "").replace("``", ""),
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="File format: docs/launch.md")
    p.add_argument("file", nargs="?",
                   help="launch file path, or a bundled file's name (see --list)")
    p.add_argument("--arg", "-a", action="append", default=[], metavar="K=V",
                   help="set a launch arg (repeatable)")
    p.add_argument("--host", help="start only the nodes with this host (a secondary machine)")
    p.add_argument("--all-hosts", action="store_true",
                   help="start every node of a multi-host file here (testing)")
    p.add_argument("--registry", help=f"registry address (default ${REGISTRY_ENV}, else a fresh "
                                      "one started here)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate and print what would start, start nothing")
    p.add_argument("--grace", type=float, default=5.0, metavar="S",
                   help="seconds between SIGTERM and SIGKILL when stopping")
    p.add_argument("--list", action="store_true", help="list the bundled launch files")
    p.set_defaults(func=run)


def _arg_pairs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"facewire launch: --arg {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out


def _list_bundled() -> int:
    from facewire.launch.model import bundled_files, load

    for name in bundled_files():
        try:
            description = load(name).description
        except Exception as exc:  # a broken bundled file should still be listed
            description = f"(invalid: {exc})"
        print(f"{name:20s} {description}")
    return 0


def run(args: argparse.Namespace) -> int:
    from facewire.launch.launcher import Launcher, fresh_registry_address, registry_answers
    from facewire.launch.model import LaunchError, graph_delay, load

    if args.list:
        return _list_bundled()
    if not args.file:
        print("facewire launch: give a launch file (or --list)", file=sys.stderr)
        return 2
    if args.host and args.all_hosts:
        print("facewire launch: --host and --all-hosts exclude each other", file=sys.stderr)
        return 2
    try:
        spec = load(args.file, _arg_pairs(args.arg))
    except (LaunchError, FileNotFoundError) as exc:
        print(f"facewire launch: error: {exc}", file=sys.stderr)
        return 2

    if args.all_hosts:
        nodes = spec.nodes
    elif args.host:
        nodes = spec.nodes_for(args.host)
        if not nodes:
            hosts = ", ".join(spec.hosts) or "none"
            print(f"facewire launch: error: {spec.file}: no node has host {args.host!r} "
                  f"(hosts in the file: {hosts})", file=sys.stderr)
            return 2
    else:
        nodes = spec.nodes_for(None)
    skipped = [n for n in spec.nodes if n not in nodes]

    explicit = args.registry or os.environ.get(REGISTRY_ENV)
    if explicit:
        from facewire.bus.addresses import address_problem

        problem = address_problem(explicit)
        if problem:
            print(f"facewire launch: error: {problem}", file=sys.stderr)
            return 2
    if args.host:
        if not explicit:
            print(f"facewire launch: error: --host {args.host} runs a secondary host's part: give "
                  f"the primary's registry with --registry ADDR or ${REGISTRY_ENV}",
                  file=sys.stderr)
            return 2
        registry, start_registry = explicit, False
        deadline = time.monotonic() + (0.0 if args.dry_run else SECONDARY_WAIT_S)
        while not registry_answers(registry, 0.5):
            if time.monotonic() > deadline:
                print(f"facewire launch: error: no registry answers at {registry}; start the "
                      "primary host's launch (without --host) first", file=sys.stderr)
                return 2
    elif explicit:
        registry, start_registry = explicit, not registry_answers(explicit, 0.5)
    else:
        registry, start_registry = fresh_registry_address(), True

    if args.dry_run:
        total, path = graph_delay(nodes)
        delay_line = (f"declared graph delay {total * 1000:.1f} ms along {' -> '.join(path)} "
                      "(class defaults; a running launch reports what the nodes compute)"
                      if path else "no nodes")
        _print_plan(spec, nodes, skipped, registry, start_registry, delay_line)
        return 0

    launcher = Launcher(nodes, registry, start_registry, grace_s=args.grace)
    launcher.say(f"{spec.file}: {len(nodes)} node(s)")
    if skipped:
        hosts = sorted({n.host or "the primary (no host)" for n in skipped})
        launcher.say(f"{len(skipped)} node(s) belong to other hosts ({', '.join(hosts)}); "
                     "start them there with --host NAME")
    return launcher.run()


def _print_plan(spec: object, nodes: list, skipped: list, registry: str, start_registry: bool,
                delay_line: str) -> None:
    from facewire.launch.model import LaunchSpec

    assert isinstance(spec, LaunchSpec)
    print(f"launch file {spec.file}")
    for name, arg in spec.args.items():
        note = f"  # {arg.description}" if arg.description else ""
        print(f"  arg {name} = {spec.values[name]!r}{note}")
    print(f"registry {registry} ({'would start' if start_registry else 'running'})")
    for n in nodes:
        flags = [f for f, on in (("respawn", n.respawn), ("required", n.required)) if on]
        extra = f" [{', '.join(flags)}]" if flags else ""
        host = f" on {n.host}" if n.host else ""
        print(f"node {n.label}{host}{extra}: {shlex.join(n.command())}")
    for n in skipped:
        print(f"skip {n.label} (host {n.host or 'primary'})")
    print(delay_line)
