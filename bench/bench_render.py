"""Benchmark: render 1,000 generated MultiCloudMongoDB over 50 clusters and print the figures.

Prints wall time, objects per second, peak memory (max RSS), and the floor: the time PyYAML's C dumper alone
takes to dump the same objects. Run with `make bench`.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from fedrender.emitter import canonical
from fedrender.pipeline.render import Inputs, render
from fedrender.pipeline.write import write_tree

INSTANCES, CLUSTERS = 1000, 50
PROVIDERS = ["aws", "gcp", "azure", "alibabacloud", "huaweicloud"]


def clusters() -> dict[str, Any]:
    items = []
    for i in range(CLUSTERS):
        items.append({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": f"member-{i:02d}", "labels": {"vip": f"10.{i // 250}.{i % 250}.10"}},
            "spec": {"syncMode": "Push", "provider": PROVIDERS[i % 5], "region": f"region-{i % 7}"},
            "status": {"conditions": [{"type": "Ready", "status": "False" if i % 17 == 16 else "True",
                                       "reason": "ClusterReady", "message": "",
                                       "lastTransitionTime": "2026-11-01T00:00:00Z"}],
                       "resourceSummary": {"allocatable": {"cpu": "2000", "memory": "8000Gi", "pods": "5000"},
                                           "allocated": {"cpu": f"{i * 3}", "memory": f"{i * 10}Gi", "pods": "100"}}},
        })
    return {"apiVersion": "v1", "kind": "List", "items": items}


def specs() -> list[dict[str, Any]]:
    return [{
        "apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
        "metadata": {"name": f"db-{i:04d}", "namespace": f"team-{i % 20:02d}"},
        "spec": {"replicaset": (3, 5, 7)[i % 3], "imageSetting": {"image": "mongo:8.0"},
                 "resource": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                 "export": {"enable": i % 4 == 0}, "storage": {"storageSize": "10Gi"}},
    } for i in range(INSTANCES)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clusters.yaml").write_text(yaml.safe_dump(clusters()))
        (root / "specs.yaml").write_text(yaml.safe_dump_all(specs()))
        inputs = Inputs([root / "specs.yaml"], root / "clusters.yaml")
        start = time.perf_counter()
        result = render(inputs)
        rendered = time.perf_counter()
        write_tree(root / "out", result.files)
        done = time.perf_counter()
        objects = [obj for inst in result.instances for obj in inst.objects]
        floor_start = time.perf_counter()
        for obj in objects:
            yaml.dump(canonical(obj), Dumper=yaml.CSafeDumper, sort_keys=False)
        floor = time.perf_counter() - floor_start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = done - start
    print(f"instances:          {INSTANCES} over {CLUSTERS} clusters")
    print(f"objects rendered:   {len(objects)} ({len(result.files)} files)")
    print(f"wall time:          {total:.2f} s (render {rendered - start:.2f} s, write {done - rendered:.2f} s)")
    print(f"objects per second: {len(objects) / total:,.0f}")
    print(f"per instance:       {total / INSTANCES * 1000:.2f} ms")
    print(f"peak memory (RSS):  {peak_mib:.0f} MiB")
    print(f"floor (C dumper):   {floor:.2f} s to dump the same objects ({len(objects) / floor:,.0f} objects/s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
