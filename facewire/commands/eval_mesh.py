"""``facewire eval landmarks|densify``: LE / DE / DAE of the landmark (S2L) and dense-mesh
(S2D) networks and their chain, on held-out voices and identities. The table always scores
both networks and the chain; the family names which network ``--model`` replaces (the other
is the bundled one unless given). ``facewire eval-mesh`` is the older spelling."""

from __future__ import annotations

import argparse

OTHER = {"landmarks": "densify", "densify": "landmarks"}


def register(sub: argparse._SubParsersAction) -> None:
    from facewire.train.mesh.evaluate import add_arguments, run

    p = sub.add_parser("eval-mesh", help="same as 'facewire eval landmarks|densify': lip, "
                       "dense and angle errors in mm on held-out identities and voices")
    add_arguments(p)
    p.set_defaults(func=run)


def add_mesh_family(fam: argparse._SubParsersAction, family: str) -> None:
    """``facewire eval landmarks`` or ``facewire eval densify``."""
    from facewire.commands.families import FAMILIES
    from facewire.train.mesh.evaluate import add_arguments

    p = fam.add_parser(family, help=FAMILIES[family] + ": lip, dense and angle errors (mm) "
                       "on held-out identities and voices")
    p.add_argument("--model", default=None, help=f"the {family} model (default: bundled)")
    add_arguments(p, without=family)
    p.set_defaults(func=_run, family=family)


def _run(args: argparse.Namespace) -> int:
    from facewire.train.mesh.evaluate import run

    setattr(args, args.family, args.model)
    return run(args, f"facewire eval {args.family}")
