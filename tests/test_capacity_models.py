"""Capacity as Karmada's general estimator counts it when a cluster has resource models (issue 13, section 5),
and a member's request with its init containers (section 2).

Karmada v1.18.2: pkg/estimator/client/general.go (``maxAvailableReplicas``, ``buildModelNodes``,
``getMaximumReplicasBasedOnResourceModels``), pkg/estimator/scheduling_simulator_components.go (first fit),
pkg/util/resource.go (``MaxDivided``, ``AddPodRequest``), pkg/apis/cluster/validation
(``ValidateClusterResourceModels``).
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fedrender.models.cluster import ResourceModel, ResourceSummary
from fedrender.pipeline.render import Inputs, render
from fedrender.scheduler.capacity import ClusterResources, estimate, estimate_free, member_requests, resource_models
from tests.conftest import ROOT, run
from tests.refusal import sandbox
from tests.sandbox import picture

F = Fraction
GI = 2**30
MAX = "9223372036854775807"
PURE = settings(deadline=None, max_examples=200)
RENDERS = settings(deadline=None, max_examples=10, suppress_health_check=[HealthCheck.too_slow])


def default_models(grades: int = 4) -> list[dict[str, Any]]:
    """Karmada's default models (pkg/apis/cluster/mutation), grades 0..grades-1, as the API server stores them."""
    out = []
    for grade in range(grades):
        cpu = (0, 1) if grade == 0 else (1, 2) if grade == 1 else (2 ** (grade - 1), 2**grade)
        memory = (0, 4) if grade == 0 else (4, 16) if grade == 1 else (2 ** (grade + 2), 2 ** (grade + 3))
        last = grade == grades - 1
        out.append({"grade": grade, "ranges": [
            {"name": "cpu", "min": str(cpu[0]), "max": MAX if last else str(cpu[1])},
            {"name": "memory", "min": f"{memory[0]}Gi", "max": MAX if last else f"{memory[1]}Gi"}]})
    return out


def models(raw: list[dict[str, Any]]) -> list[ResourceModel]:
    return [ResourceModel.model_validate(m) for m in raw]


def summary(allocatable: dict[str, str], counts: dict[int, int] | None = None, **extra: Any) -> ResourceSummary:
    modelings = [{"grade": g, "count": c} for g, c in sorted((counts or {}).items())]
    return ResourceSummary.model_validate({"allocatable": allocatable, "allocatableModelings": modelings, **extra})


# --- the estimate ---------------------------------------------------------------------------------------------


def test_the_issues_example_fits_once_by_the_models_and_twice_by_the_summary() -> None:
    # One node each of grades 0, 1 and 2 (0 + 1 + 2 = 3 CPUs): a 1.5-CPU member fits only on the grade-2 node.
    cluster = summary({"cpu": "3", "memory": "20Gi", "pods": "330"}, {0: 1, 1: 1, 2: 1})
    fit = estimate(cluster, {"cpu": F(3, 2)}, models(default_models(3)))
    assert (fit.members, fit.estimate) == (1, "resourceModels")
    assert fit.explanation == ("fits 1 by the resource models (grade 0: 1 node x 0; grade 1: 1 node x 0; grade 2: "
                               "1 node x 1; cpu 1500m per member)")
    # The summary alone (3000m // 1500m) says 2: what fedrender said before, and what Karmada says without models.
    plain = estimate(summary({"cpu": "3", "memory": "20Gi", "pods": "330"}), {"cpu": F(3, 2)},
                     models(default_models(3)))
    assert (plain.members, plain.estimate) == (2, "resourceSummary")


def test_without_models_karmada_falls_back_to_the_summary_and_says_why() -> None:
    cluster = summary({"cpu": "3", "pods": "10"}, {0: 1, 1: 1, 2: 1})
    fit = estimate(cluster, {"cpu": F(3, 2)})  # allocatableModelings but no spec.resourceModels
    assert (fit.members, fit.estimate) == (2, "resourceSummary")
    assert fit.explanation.endswith("the resource models are not used: allocatableModelings is set but "
                                    "spec.resourceModels is empty")
    negative = estimate(summary({"cpu": "3", "pods": "10"}, {0: 1, 2: -1}), {"cpu": F(3, 2)}, models(default_models(3)))
    assert (negative.members, negative.estimate) == (2, "resourceSummary")
    assert "allocatableModelings counts -1 nodes of grade 2" in negative.explanation


def test_model_nodes_hold_what_karmada_gives_them() -> None:
    grades = models(default_models(3))
    # A resource the models don't describe is 0 on every node (util.Resource.MaxDivided: a missing scalar is 0).
    gpu = estimate(summary({"cpu": "3", "nvidia.com/gpu": "8", "pods": "30"}, {2: 1}), {"nvidia.com/gpu": F(1)},
                   grades)
    assert (gpu.members, gpu.estimate) == (0, "resourceModels")
    # 110 pods per node, and the summary's free pods cap the whole estimate.
    assert estimate(summary({"pods": "500"}, {2: 2}), {"cpu": F(1, 1000)}, grades).members == 220
    capped = estimate(summary({"pods": "5"}, {2: 2}), {"cpu": F(1, 1000)}, grades)
    assert (capped.members, capped.explanation[:41]) == (5, "fits 5 (pods: 5 free; the resource models")
    # Grades the models don't define are ignored; a count of 0 builds no node.
    assert estimate(summary({"pods": "50"}, {7: 3, 1: 0}), {"cpu": F(1)}, grades).members == 0
    # The first grade starts at 0, whatever a hand-written minimum says (StandardizeClusterResourceModels).
    raw = default_models(2)
    raw[0]["ranges"][0]["min"] = "1"
    assert estimate(summary({"pods": "50"}, {0: 4}), {"cpu": F(1, 2)}, models(raw)).members == 0
    # Memory per grade: grade 2 holds 16Gi; 5Gi members: 3 per node.
    assert estimate(summary({"pods": "50"}, {2: 2}), {"cpu": F(1, 2), "memory": F(5 * GI)}, grades).members == 6


def test_members_already_there_are_added_to_what_the_models_hold() -> None:
    grades = resource_models(models(default_models(3)), summary({}, {2: 1}).allocatableModelings)
    cluster = ClusterResources({"pods": F(1)}, grades)
    assert estimate_free(cluster, {"cpu": F(3, 2)}).members == 1
    assert estimate_free(cluster, {"cpu": F(3, 2)}, kept=2).members == 3  # 1 more, and 2 that stand where they run


@st.composite
def modelled_clusters(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[int, int], int]:
    """Contiguous cpu/memory models of 2-4 grades (grades spaced out, given in any order), node counts per grade
    (now and then for a grade the models don't define), and the pods left. (A single grade holds nothing: its
    minimum is 0.)"""
    size = draw(st.integers(2, 4))
    grades = sorted(draw(st.lists(st.integers(0, 20), min_size=size, max_size=size, unique=True)))
    cpu_edges = sorted(draw(st.lists(st.integers(1, 16_000), min_size=size - 1, max_size=size - 1, unique=True)))
    mem_edges = sorted(draw(st.lists(st.integers(1, 64), min_size=size - 1, max_size=size - 1, unique=True)))
    cpu, mem = [0, *cpu_edges], [0, *mem_edges]
    raw = [{"grade": g, "ranges": [
        {"name": "cpu", "min": f"{cpu[i]}m", "max": MAX if i == size - 1 else f"{cpu[i + 1]}m"},
        {"name": "memory", "min": f"{mem[i]}Gi", "max": MAX if i == size - 1 else f"{mem[i + 1]}Gi"}]}
        for i, g in enumerate(grades)]
    raw = draw(st.permutations(raw))
    counts = draw(st.dictionaries(st.sampled_from([*grades, 21]), st.integers(0, 4), max_size=4))
    counts[draw(st.sampled_from(grades[1:]))] = draw(st.integers(1, 4))  # at least one node above grade 0
    return list(raw), counts, draw(st.integers(1, 400))


def first_fit(raw: list[dict[str, Any]], counts: dict[int, int], pods: int, cpu_m: int, mem: int) -> int:
    """An independent run of Karmada's simulation: nodes per grade from the sorted models' minimums (the first
    grade at 0, 110 pods each), one member at a time onto the first node with room, up to the free pods."""
    nodes = []
    for index, model in enumerate(sorted(raw, key=lambda m: m["grade"])):
        ranges = {r["name"]: r["min"] for r in model["ranges"]}
        node_cpu = 0 if index == 0 else int(ranges["cpu"].removesuffix("m"))
        node_mem = 0 if index == 0 else int(ranges["memory"].removesuffix("Gi")) * GI
        nodes += [[node_cpu, node_mem, 110] for _ in range(counts.get(model["grade"], 0))]
    placed = 0
    while placed < pods:
        node = next((n for n in nodes if n[0] >= cpu_m and n[1] >= mem and n[2] >= 1), None)
        if node is None:
            break
        node[0], node[1], node[2] = node[0] - cpu_m, node[1] - mem, node[2] - 1
        placed += 1
    return placed


@PURE
@given(cluster=modelled_clusters(), cpu_m=st.integers(1, 3_000), mem_mi=st.integers(0, 2_048))
def test_the_model_estimate_is_karmadas_first_fit(cluster: tuple[list[dict[str, Any]], dict[int, int], int],
                                                  cpu_m: int, mem_mi: int) -> None:
    raw, counts, pods = cluster
    requests = {"cpu": F(cpu_m, 1000), "memory": F(mem_mi * 2**20)}
    fit = estimate(summary({"cpu": "1", "memory": "1", "pods": str(pods)}, counts), requests, models(raw))
    assert fit.estimate == "resourceModels"
    assert fit.members == first_fit(raw, counts, pods, cpu_m, mem_mi * 2**20)
    event("fits " + ("0" if not fit.members else "1-9" if fit.members < 10 else "10+"))


# --- the snapshot is read strictly ----------------------------------------------------------------------------


CLUSTER: dict[str, Any] = {
    "apiVersion": "cluster.karmada.io/v1alpha1", "kind": "Cluster",
    "metadata": {"name": "modelled", "labels": {"vip": "10.0.9.1"}},
    "spec": {"syncMode": "Push", "region": "eu", "resourceModels": default_models(3)},
    "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "ClusterReady", "message": "",
                               "lastTransitionTime": "2026-01-01T00:00:00Z"}],
               "resourceSummary": {"allocatable": {"cpu": "3", "memory": "60Gi", "pods": "330"},
                                   "allocatableModelings": [{"grade": 0, "count": 1}, {"grade": 1, "count": 1},
                                                            {"grade": 2, "count": 1}]}}}


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(CLUSTER)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


BAD_MODELS = [
    (("spec", "resourceModels", 1, "grade"), "1", "spec.resourceModels[1].grade: expected an integer"),
    (("spec", "resourceModels", 1, "grade"), -1, "spec.resourceModels[1].grade"),
    (("spec", "resourceModels", 1, "grade"), 2, "spec.resourceModels[2].grade: grade 2 is defined twice"),
    (("spec", "resourceModels", 1, "ranges", 0, "min"), "1 C", "spec.resourceModels[1].ranges[0].min: "),
    (("spec", "resourceModels", 1, "ranges", 0, "min"), "1500m",
     "spec.resourceModels[1].ranges[0].min: cpu: grade 1 starts at 1500m but grade 0 ends at 1"),
    (("spec", "resourceModels", 1, "ranges", 0, "name"), "gpu", "spec.resourceModels[1].ranges[0].name: grade 1"),
    (("spec", "resourceModels", 1, "ranges", 0, "max"), "1", "spec.resourceModels[1].ranges[0].max: cpu: max 1"),
    (("spec", "resourceModels", 1, "ranges"), [], "spec.resourceModels[1].ranges: grade 1 has 0 ranges"),
    (("status", "resourceSummary", "allocatableModelings", 0, "count"), True,
     "status.resourceSummary.allocatableModelings[0].count: expected an integer, got a boolean"),
    (("status", "resourceSummary", "allocatableModelings", 0, "grade"), 2**31,
     "status.resourceSummary.allocatableModelings[0].grade"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_MODELS, ids=[m for _, _, m in BAD_MODELS])
def test_resource_models_karmada_refuses_are_refused_at_their_line(path: tuple[str | int, ...], value: Any,
                                                                   message: str) -> None:
    with sandbox() as box:
        clusters = box.write("clusters.yaml", _with(path, value))
        spec = box.write("spec.yaml", {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                       "metadata": {"name": "db", "namespace": "team"}, "spec": {"replicaset": 1}})
        before = picture(box.root)
        result = box.render(spec, clusters=clusters)
        box.assert_refused(result, before, clusters, message.split(": ")[0])
        assert message in result.stderr


# --- explain says which estimate gave the fits -----------------------------------------------------------------


def test_explain_names_the_estimate_of_every_cluster(tmp_path: Path) -> None:
    plain = _with(("metadata", "name"), "plain")
    del plain["spec"]["resourceModels"], plain["status"]["resourceSummary"]["allocatableModelings"]
    plain["metadata"]["labels"]["vip"] = "10.0.9.2"
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(yaml.safe_dump_all([CLUSTER, plain]))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                    "metadata": {"name": "db", "namespace": "team"},
                                    "spec": {"replicaset": 1, "resource": {"requests": {"cpu": "1500m"}}}}))
    args = ["explain", "--specs", str(spec), "--clusters", str(clusters)]
    text = run(args)
    assert text.exit_code == 0, text.stderr
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines()[1:4]}
    assert rows["CLUSTER"][1:4] == ["ELIGIBLE", "FITS", "ESTIMATE"]
    assert rows["modelled"][1:4] == ["yes", "1", "models"]
    assert rows["plain"][1:4] == ["yes", "2", "summary"]
    doc = json.loads(run([*args, "-o", "json"]).stdout)["instances"][0]
    assert doc["capacity"]["modelled"] == {"fits": 1, "estimate": "resourceModels", "detail": (
        "fits 1 by the resource models (grade 0: 1 node x 0; grade 1: 1 node x 0; grade 2: 1 node x 1; cpu 1500m, "
        "memory 16Mi per member)")}  # the keyfile init container asks for 16Mi, the spec for no memory
    assert doc["capacity"]["plain"] == {"fits": 2, "estimate": "resourceSummary",
                                        "detail": "fits 2 (cpu: 3 free, 1500m per member)"}


def test_a_cluster_the_models_leave_no_room_in_says_so(tmp_path: Path) -> None:
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(yaml.safe_dump(CLUSTER))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                    "metadata": {"name": "db", "namespace": "team"},
                                    "spec": {"replicaset": 2, "resource": {"requests": {"cpu": "1500m"}}}}))
    result = run(["explain", "--specs", str(spec), "--clusters", str(clusters)])
    assert result.exit_code == 1  # the summary's 3 CPUs would have taken both members
    assert "2 members don't fit: the 1 eligible clusters can hold 1" in result.stderr
    assert "modelled: fits 1, may hold 1" in result.stderr


# --- init containers -------------------------------------------------------------------------------------------


def test_an_init_container_counts_when_it_asks_for_more_than_the_containers() -> None:
    containers = [{"requests": {"cpu": "100m", "memory": "64Mi"}}, {"limits": {"cpu": "50m"}}]
    init = [{"requests": {"cpu": "10m", "memory": "256Mi"}}, {"limits": {"cpu": "500m", "memory": "16Mi"}}]
    # cpu: max(100m + 50m, 10m, 500m) = 500m; memory: max(64Mi, 256Mi, 16Mi) = 256Mi
    assert member_requests(containers, init) == {"cpu": F(1, 2), "memory": F(256 * 2**20)}
    assert member_requests(containers) == {"cpu": F(3, 20), "memory": F(64 * 2**20)}
    # A resource only an init container asks for counts too; names util.Resource doesn't keep are left out.
    assert member_requests([], [{"requests": {"example.com/fpga": "1", "storage": "1Gi"}}]) == {
        "example.com/fpga": F(1)}


QUANTITY = st.sampled_from(["1m", "10m", "250m", "1", "2"])
MEMORY = st.sampled_from(["1Mi", "16Mi", "100Mi", "1Gi"])
RESOURCES = st.fixed_dictionaries({}, optional={
    "requests": st.fixed_dictionaries({}, optional={"cpu": QUANTITY, "memory": MEMORY}),
    "limits": st.fixed_dictionaries({}, optional={"cpu": QUANTITY, "memory": MEMORY})})


@PURE
@given(containers=st.lists(RESOURCES, max_size=3), init=st.lists(RESOURCES, max_size=3))
def test_a_members_request_is_the_pods_effective_request(containers: list[dict[str, Any]],
                                                        init: list[dict[str, Any]]) -> None:
    from fedrender.models.quantity import parse_quantity

    def effective(resources: dict[str, Any], name: str) -> Fraction:
        value = resources.get("requests", {}).get(name, resources.get("limits", {}).get(name, "0"))
        return parse_quantity(value)

    got = member_requests(containers, init)
    for name in ("cpu", "memory"):
        want = max([sum((effective(c, name) for c in containers), F(0)), *(effective(c, name) for c in init)])
        assert got.get(name, F(0)) == want


def _snapshot(tmp_path: Path, cpu_free: str) -> Path:
    cluster = copy.deepcopy(CLUSTER)
    del cluster["spec"]["resourceModels"], cluster["status"]["resourceSummary"]["allocatableModelings"]
    cluster["status"]["resourceSummary"]["allocatable"] = {"cpu": cpu_free, "memory": "64Gi", "pods": "500"}
    path = tmp_path / "clusters.yaml"
    path.write_text(yaml.safe_dump(cluster))
    return path


def test_the_keyfile_init_container_limits_a_tiny_member(tmp_path: Path) -> None:
    # Members asking for 1m CPU: 100m free would fit 100, but the keyfile init container asks for 10m: 10 fit.
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                    "metadata": {"name": "db", "namespace": "team"},
                                    "spec": {"replicaset": 1, "resource": {"requests": {"cpu": "1m",
                                                                                        "memory": "1Mi"}}}}))
    result = run(["explain", "--specs", str(spec), "--clusters", str(_snapshot(tmp_path, "100m")), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    capacity = json.loads(result.stdout)["instances"][0]["capacity"]["modelled"]
    assert capacity == {"fits": 10, "estimate": "resourceSummary",
                        "detail": "fits 10 (cpu: 100m free, 10m per member)"}


def test_a_pack_whose_requests_differ_from_its_template_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "mongodb" / "pack.yaml"
    text = pack.read_text()
    start = text.index("    memberInitRequests:")
    pack.write_text(text[:start] + text[text.index("    # The instance's tolerations"):])
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                    "metadata": {"name": "db", "namespace": "team"},
                                    "spec": {"replicaset": 1, "resource": {"requests": {"cpu": "1m",
                                                                                        "memory": "1Mi"}}}}))
    result = run(["render", "--specs", str(spec), "--clusters", str(_snapshot(tmp_path, "100m")), "--rules",
                  str(rules), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(pack.read_text().splitlines(), 1) if "memberRequests:" in text)
    assert f"{pack}:{line}:" in result.stderr
    assert ("team/db: StatefulSet db asks for cpu 10m, memory 16Mi per pod in modelled, as Karmada counts it "
            "(containers summed, an init container when it asks for more), but scheduling.memberRequests and "
            "memberInitRequests of pack mongodb give cpu 1m, memory 1Mi there") in result.stderr
    assert not (tmp_path / "out").exists()


SPEC_RESOURCES = st.fixed_dictionaries({}, optional={
    "requests": st.fixed_dictionaries({"cpu": QUANTITY, "memory": MEMORY}),
    "limits": st.fixed_dictionaries({"cpu": st.just("4"), "memory": st.just("2Gi")})})


@RENDERS
@given(resource=st.one_of(st.none(), SPEC_RESOURCES), export=st.booleans(),
       exporter=st.one_of(st.none(), SPEC_RESOURCES))
def test_fits_are_what_karmada_reads_from_the_rendered_statefulset(
        resource: dict[str, Any] | None, export: bool, exporter: dict[str, Any] | None) -> None:
    spec: dict[str, Any] = {"replicaset": 1, "export": {"enable": export}}
    if resource is not None:
        spec["resource"] = resource
    if exporter is not None:
        spec["export"]["resource"] = exporter
    with sandbox() as box:
        specs = box.write("spec.yaml", {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                        "metadata": {"name": "db", "namespace": "team"}, "spec": spec})
        cluster = copy.deepcopy(CLUSTER)
        del cluster["spec"]["resourceModels"], cluster["status"]["resourceSummary"]["allocatableModelings"]
        cluster["status"]["resourceSummary"]["allocatable"] = {"cpu": "7", "memory": "20Gi", "pods": "500"}
        clusters = box.write("clusters.yaml", cluster)
        result = render(Inputs([specs], clusters))
    sts = next(yaml.safe_load(v) for k, v in result.files.items() if k.endswith("statefulset-db.yaml"))
    pod = sts["spec"]["template"]["spec"]

    def request(container: dict[str, Any], name: str) -> Fraction:
        from fedrender.models.quantity import parse_quantity
        resources = container.get("resources") or {}
        return parse_quantity(resources.get("requests", {}).get(name, resources.get("limits", {}).get(name, "0")))

    fits = 500
    for name, free in (("cpu", F(7)), ("memory", F(20 * GI))):
        want = max([sum((request(c, name) for c in pod["containers"]), F(0)),
                    *(request(c, name) for c in pod["initContainers"])])
        unit = 1000 if name == "cpu" else 1
        fits = min(fits, math.ceil(free * unit) // math.ceil(want * unit))
    assert result.instances[0].rows["modelled"].fits == fits
