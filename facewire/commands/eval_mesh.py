"""``facewire eval-mesh``: LE / DE / DAE of S2L and S2D on held-out voices and identities."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from facewire.train.mesh.evaluate import add_arguments, run

    p = sub.add_parser("eval-mesh", help="evaluate landmarks (S2L) and densify (S2D) models: "
                       "lip, dense and angle errors in mm on held-out identities and voices")
    add_arguments(p)
    p.set_defaults(func=run)
