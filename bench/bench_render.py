"""Benchmarks, printed as figures (run with `make bench`):

1. render 1,000 generated MultiCloudMongoDB over 50 clusters: wall time, objects per second, peak memory
   (max RSS), and the floor, the time PyYAML's C dumper alone takes to dump the same objects;
2. explain 1,000 instances over 100 clusters starting from a state file (sticky placement), with one
   cluster gone NotReady since, so that failover moves are computed too: time per instance;
3. load a snapshot of 5,000 clusters given as one ``List`` and as 5,000 separate documents (the two must take
   about the same time: positions of List items are shared, not copied per item);
4. render one instance from a state file that holds 10,000 members for it (scaled down to the spec's 5):
   placement must stay linear in the members of the state.
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
from fedrender.pipeline.load import load_clusters
from fedrender.pipeline.render import Inputs, read_state, render
from fedrender.pipeline.write import write_tree

INSTANCES, CLUSTERS = 1000, 50
PROVIDERS = ["aws", "gcp", "azure", "alibabacloud", "huaweicloud"]


def clusters(count: int = CLUSTERS, not_ready: int = -1) -> dict[str, Any]:
    items = []
    for i in range(count):
        items.append({
            "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": f"member-{i:02d}", "labels": {"vip": f"10.{i // 250}.{i % 250}.10"}},
            "spec": {"syncMode": "Push", "provider": PROVIDERS[i % 5], "region": f"region-{i % 7}"},
            "status": {"conditions": [{"type": "Ready", "status": "False" if i % 17 == 16 or i == not_ready else "True",
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
    explain_bench()
    load_bench()
    big_state_bench()
    sys.stdout.flush()


def explain_bench() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clusters.yaml").write_text(yaml.safe_dump(clusters(100)))
        (root / "specs.yaml").write_text(yaml.safe_dump_all(specs()))
        out = root / "out"
        write_tree(out, render(Inputs([root / "specs.yaml"], root / "clusters.yaml")).files)
        state = read_state(out)
        first = next(iter(state.instances.values())).members[0].cluster if state else ""
        (root / "clusters.yaml").write_text(yaml.safe_dump(clusters(100, not_ready=int(first.split("-")[1]))))
        start = time.perf_counter()
        result = render(Inputs([root / "specs.yaml"], root / "clusters.yaml"), state)
        elapsed = time.perf_counter() - start
    moves = sum(len(inst.moves) for inst in result.instances)
    print(f"explain with state: {INSTANCES} instances over 100 clusters, {moves} members moved off {first}")
    print(f"  wall time:        {elapsed:.2f} s, {elapsed / INSTANCES * 1000:.2f} ms per instance")


def load_bench(count: int = 5000) -> None:
    snapshot = clusters(count)
    with tempfile.TemporaryDirectory() as tmp:
        as_list, as_docs = Path(tmp) / "list.yaml", Path(tmp) / "docs.yaml"
        as_list.write_text(yaml.dump(snapshot, Dumper=yaml.CSafeDumper))
        as_docs.write_text(yaml.dump_all(snapshot["items"], Dumper=yaml.CSafeDumper))
        times = {}
        for name, path in (("one List", as_list), ("separate documents", as_docs)):
            start = time.perf_counter()
            loaded = load_clusters(path)
            times[name] = time.perf_counter() - start
            assert len(loaded) == count
    print(f"load {count} clusters: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items()))


def big_state_bench(members: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clusters.yaml").write_text(yaml.safe_dump(clusters()))
        spec = {**specs()[0], "spec": {**specs()[0]["spec"], "replicaset": 5}}
        (root / "specs.yaml").write_text(yaml.safe_dump(spec))
        inputs = Inputs([root / "specs.yaml"], root / "clusters.yaml")
        out = root / "out"
        write_tree(out, render(inputs).files)
        state = read_state(out)
        assert state is not None
        inst = next(iter(state.instances.values()))
        names = sorted(inst.placement)
        template = inst.members[0]
        inst.members[:] = [template.model_copy(update={"id": i, "cluster": names[i % len(names)],
                                                       "ordinal": i // len(names)}) for i in range(members)]
        start = time.perf_counter()
        result = render(inputs, state)
        elapsed = time.perf_counter() - start
    kept = sum(result.instances[0].placement.values())
    print(f"render with a {members:,}-member state: {elapsed:.2f} s (scaled down to {kept} members)")


if __name__ == "__main__":
    main()
