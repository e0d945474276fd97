#!/usr/bin/env python3
"""Figures for the offline path: build times, cluster start, idle memory. Not a test: it prints.

    python scripts/benchmark.py            # warm rebuild, node image build, cluster start, idle memory
    python scripts/benchmark.py --cold     # also a cold build: empty kubelab cache and Go build cache

Targets (issue "Real multi-node kind clusters..."): cold build < 40 min, warm rebuild < 1 min,
cluster ready < 90 s, idle cluster < 3 GiB. The cold build keeps the Go module download cache
(sources), and builds into temporary caches that are removed afterwards.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def timed(label: str, args: list[str], env: dict | None = None) -> float:
    print(f"--- {label}: {' '.join(args)}", flush=True)
    started = time.monotonic()
    subprocess.run(args, check=True, env={**os.environ, **(env or {})})
    elapsed = time.monotonic() - started
    print(f"--- {label}: {elapsed:.1f} s", flush=True)
    return elapsed


def idle_memory(cluster: str, settle: float) -> float:
    time.sleep(settle)
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = 0.0
    for line in out.splitlines():
        name, usage = line.split(" ", 1)
        if name.startswith(cluster + "-"):
            m = re.match(r"([\d.]+)\s*([A-Za-z]+)", usage)
            total += float(m.group(1)) * UNITS[m.group(2)]
    return total / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cold", action="store_true", help="also measure a build from empty caches"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60,
        help="seconds to let the cluster settle before measuring memory",
    )
    args = parser.parse_args()
    kubelab = [sys.executable, "-m", "kubelab"]
    figures: dict[str, float] = {}

    if args.cold:
        tmp = Path(tempfile.mkdtemp(prefix="kubelab-bench-"))
        try:
            env = {"KUBELAB_CACHE": str(tmp / "kubelab"), "GOCACHE": str(tmp / "go-build")}
            figures["cold build (s)"] = timed(
                "cold build", [*kubelab, "images", "build", "--force-node"], env
            )
            steps = json.loads((tmp / "kubelab" / "offline" / "last-build.json").read_text())[
                "timings"
            ]
            for step, seconds in steps.items():
                figures[f"  cold step {step} (s)"] = round(seconds, 1)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    figures["warm rebuild (s)"] = timed("warm rebuild", [*kubelab, "images", "build"])
    figures["node image build (s)"] = timed(
        "node image build", [*kubelab, "images", "build", "--force-node"]
    )
    subprocess.run([*kubelab, "down"], check=True)
    figures["kubelab up to all nodes Ready (s)"] = timed(
        "cluster start", [*kubelab, "up", "--images", "offline"]
    )
    figures["idle cluster memory (GiB)"] = round(idle_memory("kubelab-default", args.settle), 2)

    print("\nfigure                                   value")
    for name, value in figures.items():
        print(f"{name:40} {value:.1f}" if isinstance(value, float) else f"{name:40} {value}")


if __name__ == "__main__":
    main()
