"""``facewire msg list|show``: the message types and their schemas."""

from __future__ import annotations

import argparse
import json

from facewire.messages.base import describe, json_schema, registry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("msg", help="message types and their schemas")
    inner = p.add_subparsers(dest="msg_command", required=True)
    inner.add_parser("list", help="list message types").set_defaults(func=list_types)
    show = inner.add_parser("show", help="print a type's schema")
    show.add_argument("type")
    show.add_argument("--json", action="store_true", help="the JSON schema stored in bags")
    show.set_defaults(func=show_type)


def list_types(args: argparse.Namespace) -> int:
    for name, cls in sorted(registry().items()):
        print(f"{name:14s} v{cls.VERSION}  {(cls.__doc__ or '').strip().splitlines()[0]}")
    return 0


def show_type(args: argparse.Namespace) -> int:
    cls = registry().get(args.type)
    if cls is None:
        print(f"unknown message type {args.type!r}; known: {', '.join(sorted(registry()))}")
        return 2
    if args.json:  # exactly what a bag stores, names included
        from facewire.bag.names import names_of_type

        print(json.dumps(json_schema(cls, names_of_type(cls.TYPE)), indent=2))
    else:
        print(describe(cls))
    return 0
