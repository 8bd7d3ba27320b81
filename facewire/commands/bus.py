"""``facewire bus``: run the discovery registry by hand; ``facewire bus keys`` for CURVE."""

from __future__ import annotations

import argparse
import logging
import sys

from facewire.bus.addresses import registry_address


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bus", help="run the discovery registry (for hand-started nodes)")
    p.add_argument("--address", help="where to listen (default $FACEWIRE_BUS or tcp://127.0.0.1:7447)")
    p.set_defaults(func=run)
    inner = p.add_subparsers(dest="bus_command")
    keys = inner.add_parser("keys", help="create CURVE keys for encrypted graphs")
    keys.add_argument("folder")
    keys.set_defaults(func=make_keys)


def run(args: argparse.Namespace) -> int:
    from facewire.bus.addresses import address_problem
    from facewire.bus.registry import serve

    address = registry_address(args.address)
    problem = address_problem(address)
    if problem:
        print(f"facewire bus: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return serve(address)


def make_keys(args: argparse.Namespace) -> int:
    from facewire.bus.curve import create_keys

    path = create_keys(args.folder)
    print(f"keys in {path}; set FACEWIRE_CURVE={path} on every host of the graph")
    return 0
