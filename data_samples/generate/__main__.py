"""Command line of the sample generator: ``python -m data_samples.generate``.

    python -m data_samples.generate [--out DIR]               # sample set (default data_samples/jining)
    python -m data_samples.generate buildings --count N --out FILE.gpkg [--seed S] [--chunk C]
    python -m data_samples.generate verify [--out DIR]        # re-check an existing sample set

Writing the sample set always verifies it afterwards, so a broken set is never left unnoticed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import data_samples.generate as package
from data_samples.generate.frame import SAMPLE_DIR, SAMPLE_SEED
from data_samples.generate.large_buildings import write_buildings_gpkg
from data_samples.generate.sample_set import generate_sample_set
from data_samples.generate.verify import verify_sample_set


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    default_out = SAMPLE_DIR
    p = argparse.ArgumentParser(prog="python -m data_samples.generate",
                                description=package.__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help=f"sample set directory (default {default_out})")
    p.add_argument("--seed", type=int, default=SAMPLE_SEED, help="seed of the sample set")
    sub = p.add_subparsers(dest="command")
    pb = sub.add_parser("buildings", help="write N synthetic building footprints to a GeoPackage")
    pb.add_argument("--count", type=int, required=True)
    pb.add_argument("--out", type=Path, required=True, help="output .gpkg")
    pb.add_argument("--seed", type=int, default=0)
    pb.add_argument("--chunk", type=int, default=100_000)
    pv = sub.add_parser("verify", help="re-check an existing sample set")
    pv.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    if args.command == "buildings":
        out = write_buildings_gpkg(args.out, args.count, seed=args.seed, chunk=args.chunk)
        print(f"wrote {args.count:,} buildings to {out} ({out.stat().st_size:,} bytes)")
        return 0
    out_dir = args.out or default_out
    if args.command == "verify":
        verify_sample_set(out_dir)
        return 0
    generate_sample_set(out_dir, seed=args.seed)
    verify_sample_set(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
