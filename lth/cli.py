"""The command line (``python -m lth --help``)."""
from __future__ import annotations

import argparse
import sys


def _sweep_seed(args):
    from lth import seed_protocol

    densities = [float(d) for d in args.densities.split(",")] if args.densities else seed_protocol.DENSITIES
    protocols = args.protocols.split(",") if args.protocols else seed_protocol.PROTOCOLS
    seed_protocol.run(protocols=protocols, densities=densities, trials=range(args.trials), epochs=args.epochs,
                      group_size=args.group_size, progress=lambda msg: print(msg, flush=True))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m lth", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sweep = sub.add_parser("sweep-seed", help="run or resume the seed paper's experiment (Figs. 6, 7)")
    sweep.add_argument("--trials", type=int, default=5)
    sweep.add_argument("--epochs", type=int, default=500)
    sweep.add_argument("--densities", default="", help="comma-separated, default 0.5,...,0.01")
    sweep.add_argument("--protocols", default="", help="faithful,corrected (default both)")
    sweep.add_argument("--group-size", type=int, default=8)
    sweep.set_defaults(func=_sweep_seed)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
