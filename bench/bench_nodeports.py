"""NodePort benchmarks, printed as figures (run with `make bench`):

1. the time until render refuses 3,000 instances whose member Services need more NodePorts than the
   default range holds (the refusal comes before scheduling);
2. allocating every port of the default range (2,768 keys into 2,768 ports), where probing is longest.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import bench_render
import yaml

from fedrender.composer.nodeports import DEFAULT_RANGE, allocate
from fedrender.models.diagnostics import InputError
from fedrender.pipeline.render import Inputs, render

INSTANCES = 3000


def exhaustion() -> None:
    bench_render.INSTANCES = INSTANCES
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clusters.yaml").write_text(yaml.safe_dump(bench_render.clusters()))
        (root / "specs.yaml").write_text(yaml.safe_dump_all(bench_render.specs()))
        start = time.perf_counter()
        try:
            render(Inputs([root / "specs.yaml"], root / "clusters.yaml"))
        except InputError as exc:
            elapsed = time.perf_counter() - start
            print(f"NodePorts exhausted: {INSTANCES} instances refused in {elapsed:.2f} s "
                  f"({len(exc.diagnostics)} located messages)")
            return
    raise SystemExit("expected the render to run out of NodePorts")


def full_range() -> None:
    size = DEFAULT_RANGE[1] - DEFAULT_RANGE[0] + 1
    keys = [("team", f"db-{i:05d}", "0") for i in range(size)]
    start = time.perf_counter()
    allocate(keys)
    print(f"NodePort allocation: {size} keys fill {DEFAULT_RANGE[0]}-{DEFAULT_RANGE[1]} in "
          f"{(time.perf_counter() - start) * 1000:.0f} ms")


if __name__ == "__main__":
    exhaustion()
    full_range()
