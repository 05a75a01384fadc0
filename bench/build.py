"""Time a full catalog build against the floor of just reading the same rule files.

The floor for each vendor is loading its rule files with the fastest stock
reader (libyaml for Sigma and Splunk YAML, tomllib for Elastic TOML), in the
same run, on the same machine. Prints seconds per vendor and the ratio.

    python bench/build.py [--corpus ../shared/corpus] [--vendors sigma,elastic,splunk]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tomllib
from pathlib import Path

import yaml

from ruledex.catalog.build import build
from ruledex.sources import open_source


def floor_seconds(vendor: str, root: Path) -> tuple[int, float]:
    """Seconds to read and parse every rule file of a checkout, nothing more."""
    files = open_source(f"{vendor}={root}").files()
    started = time.perf_counter()
    for path in files:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            tomllib.loads(text)
        else:
            list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    return len(files), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(__file__).resolve().parents[1].parent / "shared" / "corpus")
    parser.add_argument("--vendors", default="sigma,elastic,splunk")
    args = parser.parse_args()
    vendors = [v for v in args.vendors.split(",") if (args.corpus / v).is_dir()]

    print(f"{'vendor':8} {'files':>6} {'floor s':>8} {'build s':>8} {'ratio':>6}")
    total_floor = total_build = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for vendor in vendors:
            root = args.corpus / vendor
            files, floor = floor_seconds(vendor, root)
            started = time.perf_counter()
            build(Path(tmp) / f"{vendor}.sqlite", [f"{vendor}={root}"])
            seconds = time.perf_counter() - started
            total_floor += floor
            total_build += seconds
            print(f"{vendor:8} {files:6d} {floor:8.2f} {seconds:8.2f} {seconds / floor:6.1f}")
        started = time.perf_counter()
        build(Path(tmp) / "all.sqlite", [f"{v}={args.corpus / v}" for v in vendors])
        together = time.perf_counter() - started
    print(f"{'all':8} {'':6} {total_floor:8.2f} {together:8.2f} {together / total_floor:6.1f}")


if __name__ == "__main__":
    main()
