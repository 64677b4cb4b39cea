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
from fedrender.scheduler.capacity import (
    ClusterResources,
    allocatable_resources,
    estimate,
    estimate_free,
    free_resources,
    member_requests,
    resource_models,
)
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


def _explain(tmp_path: Path, cluster: dict[str, Any], members: int, *options: str) -> Any:
    """``explain`` of team/db, ``members`` members of 1.5 CPUs, over the one ``cluster``."""
    clusters = tmp_path / "clusters.yaml"
    clusters.write_text(yaml.safe_dump(cluster))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                    "metadata": {"name": "db", "namespace": "team"},
                                    "spec": {"replicaset": members, "resource": {"requests": {"cpu": "1500m"}}}}))
    return run(["explain", "--specs", str(spec), "--clusters", str(clusters), *options])


def test_a_cluster_the_models_leave_no_room_in_says_so(tmp_path: Path) -> None:
    result = _explain(tmp_path, CLUSTER, 2)
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


# --- any models: refused where Karmada's API server refuses them, else estimated as its estimator does ----------

SUPPORTED = ("cpu", "memory", "storage", "ephemeral-storage")
UNIT = {"cpu": "m", "memory": "Mi", "storage": "Mi", "ephemeral-storage": "Mi"}


def _amount(name: str, value: int) -> str:
    return f"{value}{UNIT.get(name, '')}"


@st.composite
def any_models(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Models Karmada accepts (contiguous ranges, one name list for all grades: possibly empty, possibly naming a
    resource twice), then now and then one change it may refuse: a duplicate grade, a name it doesn't support,
    a name out of order, a gap, a max not above its min, a range too many."""
    size = draw(st.integers(1, 4))
    grades = draw(st.lists(st.integers(0, 9), min_size=size, max_size=size, unique=True))
    names = draw(st.lists(st.sampled_from(["cpu", "memory", "cpu", "memory", "storage", "ephemeral-storage"]),
                          max_size=3))
    edges = {j: [0, *sorted(draw(st.lists(st.integers(1, 6000), min_size=size - 1, max_size=size - 1,
                                          unique=True)))] for j in range(len(names))}
    ordered = sorted(grades)
    raw = [{"grade": g, "ranges": [
        {"name": name, "min": _amount(name, edges[j][i]),
         "max": MAX if i == size - 1 else _amount(name, edges[j][i + 1])} for j, name in enumerate(names)]}
        for i, g in enumerate(ordered)]
    change = draw(st.sampled_from(["none"] * 3 + ["grade", "unsupported", "rename", "gap", "max", "extra",
                                                  "lowest-min", "last-max"]))
    at = draw(st.integers(0, size - 1))
    ranges = raw[at]["ranges"]
    if change == "grade" and size > 1:
        raw[at]["grade"] = raw[at - 1]["grade"]
    elif change == "unsupported" and ranges:  # in one model, or in every model alike
        other = draw(st.sampled_from(["gpu", "pods", "nvidia.com/gpu", "hugepages-2Mi"]))
        for model in raw if draw(st.booleans()) else [raw[at]]:
            model["ranges"][0]["name"] = other
    elif change == "rename" and ranges:
        ranges[-1]["name"] = "memory" if ranges[-1]["name"] != "memory" else "cpu"
    elif change == "gap" and ranges and at > 0:
        ranges[0]["min"] = _amount(ranges[0]["name"], edges[0][at] + 1)
    elif change == "max" and ranges and at < size - 1:
        ranges[0]["max"] = ranges[0]["min"]
    elif change == "extra":
        ranges.append({"name": "cpu", "min": "0", "max": MAX})
    elif change == "lowest-min" and ranges:  # the API server sets it to 0: accepted
        raw[0]["ranges"][0]["min"] = _amount(raw[0]["ranges"][0]["name"], draw(st.integers(-5, 5)))
    elif change == "last-max" and ranges:  # the API server makes it unbounded: accepted
        raw[-1]["ranges"][0]["max"] = _amount(raw[-1]["ranges"][0]["name"], draw(st.integers(-5, 5)))
    event(f"change {change}")
    return list(draw(st.permutations(raw)))


def karmada_refuses(raw: list[dict[str, Any]]) -> bool:
    """``StandardizeClusterResourceModels`` (sort by grade, the lowest minimums 0, the highest maximums
    unbounded), then ``ValidateClusterResourceModels`` (pkg/apis/cluster/validation/validation.go), comparing
    quantities by value."""
    from fedrender.models.quantity import parse_quantity as q
    models = copy.deepcopy(sorted(raw, key=lambda m: m["grade"]))
    for r in models[0]["ranges"] if models else []:
        r["min"] = "0"
    for r in models[-1]["ranges"] if models else []:
        r["max"] = MAX
    for i, model in enumerate(models):
        before = models[i - 1] if i else None
        if before and (model["grade"] == before["grade"] or len(model["ranges"]) != len(before["ranges"])):
            return True
        for j, r in enumerate(model["ranges"]):
            if r["name"] not in SUPPORTED or q(r["max"]) <= q(r["min"]):
                return True
            if before and (before["ranges"][j]["name"] != r["name"] or q(before["ranges"][j]["max"]) != q(r["min"])):
                return True
    return False


def karmada_estimate(raw: list[dict[str, Any]], modelings: list[tuple[int, int]], pods: int, cpu_free_m: int,
                     request: dict[str, int]) -> tuple[int, str]:
    """Karmada v1.18's general estimate, written from its description: models when ``allocatableModelings`` is
    not empty, there are models, and no count is negative (else the summary); a node per counted node of each
    modelled grade (counts of a grade added up) holding the grade's minimums (the lowest grade 0, a resource
    listed twice at its last range, a resource not listed 0) and 110 pods; members first-fit, at most ``pods``.
    ``request``: millicores of cpu, bytes of the rest."""
    from fedrender.models.quantity import parse_quantity as q
    if pods <= 0:  # maxAvailableReplicas returns before it looks at anything else
        return 0, "resourceSummary"
    if not modelings or not raw or any(count < 0 for _, count in modelings):
        free = {"cpu": cpu_free_m, "memory": 60 * GI}
        fits = min([pods, *(free.get(name, 0) // v for name, v in request.items() if v)])
        return max(fits, 0), "resourceSummary"
    counts: dict[int, int] = {}
    for grade, count in modelings:
        counts[grade] = counts.get(grade, 0) + count
    nodes = []
    for index, model in enumerate(sorted(raw, key=lambda m: m["grade"])):
        capacity = {"pods": 110}
        for r in model["ranges"]:
            amount = q(r["min"]) * (1000 if r["name"] == "cpu" else 1)
            capacity[r["name"]] = 0 if index == 0 else math.ceil(amount)
        nodes += [dict(capacity) for _ in range(counts.get(model["grade"], 0))]
    placed = 0
    while placed < pods:
        node = next((n for n in nodes if n["pods"] >= 1 and all(n.get(k, 0) >= v for k, v in request.items())), None)
        if node is None:
            break
        node["pods"] -= 1
        for k, v in request.items():
            if v:
                node[k] -= v
        placed += 1
    return placed, "resourceModels"


@PURE
@given(raw=any_models(),
       modelings=st.lists(st.tuples(st.integers(0, 10), st.integers(-1, 3).filter(lambda c: c >= 0 or c == -1)),
                          max_size=5),
       pods=st.integers(0, 300), cpu_m=st.integers(1, 3_000), mem_mi=st.integers(0, 2_048))
def test_any_models_are_refused_at_their_field_or_estimated_as_karmada_does(
        raw: list[dict[str, Any]], modelings: list[tuple[int, int]], pods: int, cpu_m: int, mem_mi: int) -> None:
    from fedrender.models.diagnostics import InputError
    from fedrender.pipeline.load import load_clusters
    cluster = _with(("spec", "resourceModels"), raw)
    cluster["status"]["resourceSummary"] = {
        "allocatable": {"cpu": "3", "memory": "60Gi", "pods": str(pods)},
        "allocatableModelings": [{"grade": g, "count": c} for g, c in modelings]}
    refused = karmada_refuses(raw)
    with sandbox() as box:
        path = box.write("clusters.yaml", cluster)
        if refused:
            with pytest.raises(InputError) as caught:
                load_clusters(path)
            lines = len(path.read_text().splitlines())
            for d in caught.value.diagnostics:
                assert d.location is not None, d.render()
                assert d.location.file == str(path), d.render()
                assert 1 <= d.location.line <= lines, d.render()
                assert d.field_path.startswith("spec.resourceModels"), d.render()
            event("refused")
            return
        [loaded] = load_clusters(path)
    assert loaded.status is not None
    requests = {"cpu": F(cpu_m, 1000), "memory": F(mem_mi * 2**20)}
    fit = estimate(loaded.status.resourceSummary, requests, loaded.spec.resourceModels)
    want = karmada_estimate(raw, modelings, pods, 3000, {"cpu": cpu_m, "memory": mem_mi * 2**20})
    assert (fit.members, fit.estimate) == want, fit.explanation
    event(f"estimated by {fit.estimate}")


def test_a_resource_karmada_does_not_model_is_refused_even_in_every_grade() -> None:
    cluster = copy.deepcopy(CLUSTER)
    for model in cluster["spec"]["resourceModels"]:
        model["ranges"][0]["name"] = "nvidia.com/gpu"
    with sandbox() as box:
        clusters = box.write("clusters.yaml", cluster)
        spec = box.write("spec.yaml", {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB",
                                       "metadata": {"name": "db", "namespace": "team"}, "spec": {"replicaset": 1}})
        before = picture(box.root)
        result = box.render(spec, clusters=clusters)
        box.assert_refused(result, before, clusters, "spec.resourceModels[0].ranges[0].name")
    assert ("spec.resourceModels[0].ranges[0].name: grade 0 range 0 is 'nvidia.com/gpu', but a resource model "
            "describes only cpu, memory, storage, ephemeral-storage (Karmada's API server refuses others); use one of "
            "them or remove this range from every model") in result.stderr
    assert "spec.resourceModels[2].ranges[0].name: grade 2 range 0 is 'nvidia.com/gpu'" in result.stderr


ACCEPTED = [  # (models, allocatableModelings, what the estimate says, members, estimate)
    (default_models(3), [(2, 1), (2, 2)], "allocatableModelings list grade 2 twice: Karmada adds up their counts "
     "(3 nodes)", 3, "resourceModels"),
    (default_models(3), [(2, 1), (7, 4)], "allocatableModelings grade 7 (4 nodes) is not a grade of "
     "spec.resourceModels: ignored, as Karmada ignores it", 1, "resourceModels"),
    (default_models(3), [(2, 1), (1, -1)], "the resource models are not used: allocatableModelings counts -1 nodes of "
     "grade 1 (Karmada's estimator refuses a negative count)", 2, "resourceSummary"),
    (default_models(3), [], "the resource models are not used: status.resourceSummary.allocatableModelings is empty",
     2, "resourceSummary"),
    ([{"grade": 0, "ranges": []}, {"grade": 1, "ranges": []}], [(1, 3)],
     "the models describe no cpu: a model node holds none (Karmada counts it as 0)", 0, "resourceModels"),
    ([{"grade": 0, "ranges": [{"name": "cpu", "min": "4", "max": "2"}]}], [(0, 2)],
     "grade 0 nodes hold nothing: Karmada's API server sets the lowest grade's minimum to 0 (the snapshot says cpu 4)",
     0, "resourceModels"),
    ([{"grade": 0, "ranges": [{"name": "cpu", "min": "0", "max": "1"}, {"name": "cpu", "min": "0", "max": "4"}]},
      {"grade": 1, "ranges": [{"name": "cpu", "min": "1", "max": MAX}, {"name": "cpu", "min": "4", "max": MAX}]}],
     [(1, 1)], "grade 1 lists cpu twice: its last range counts, as in Karmada", 2, "resourceModels"),
]


@pytest.mark.parametrize(("raw", "modelings", "said", "members", "kind"), ACCEPTED, ids=[a[2][:40] for a in ACCEPTED])
def test_what_karmada_accepts_is_estimated_as_it_does_and_said(
        raw: list[dict[str, Any]], modelings: list[tuple[int, int]], said: str, members: int, kind: str) -> None:
    from fedrender.models.cluster import ClusterSpec
    spec = ClusterSpec.model_validate({"syncMode": "Push", "resourceModels": raw})  # the API server accepts it
    cluster = summary({"cpu": "3", "memory": "60Gi", "pods": "100"}, None,
                      allocatableModelings=[{"grade": g, "count": c} for g, c in modelings])
    fit = estimate(cluster, {"cpu": F(3, 2)}, spec.resourceModels)
    assert (fit.members, fit.estimate) == (members, kind), fit.explanation
    assert said in fit.explanation


def test_explain_says_why_resource_models_were_not_used(tmp_path: Path) -> None:
    cluster = copy.deepcopy(CLUSTER)
    cluster["status"]["resourceSummary"]["allocatableModelings"] = [{"grade": 2, "count": 1},
                                                                    {"grade": 0, "count": -2}]
    result = _explain(tmp_path, cluster, 1, "-o", "json")
    assert result.exit_code == 0, result.stderr
    capacity = json.loads(result.stdout)["instances"][0]["capacity"]["modelled"]
    assert capacity == {"fits": 2, "estimate": "resourceSummary", "detail": (
        "fits 2 (cpu: 3 free, 1500m per member); the resource models are not used: allocatableModelings counts "
        "-2 nodes of grade 0 (Karmada's estimator refuses a negative count)")}


@PURE
@given(allocatable=st.integers(1, 64), allocated=st.integers(0, 64), kept=st.integers(0, 8), cpu=st.integers(1, 8))
def test_members_already_there_never_make_a_cluster_bigger_than_it_is(allocatable: int, allocated: int, kept: int,
                                                                    cpu: int) -> None:
    """Members kept in a cluster are counted back into its free room (the snapshot's ``allocated`` holds their
    pods), but never beyond ``allocatable``: a snapshot whose ``allocated`` misses them (stale, or written by
    hand) gave a 2-CPU cluster two 2-CPU members (found by a new-user walkthrough)."""
    cluster = summary({"cpu": str(allocatable), "pods": "110"}, allocated={"cpu": str(min(allocated, allocatable))})
    built = ClusterResources(free_resources(cluster), None, allocatable_resources(cluster))
    fit = estimate_free(built, {"cpu": F(cpu)}, kept)
    assert fit.members <= allocatable // cpu
    used = min(allocated, allocatable)
    assert fit.members == min(allocatable, allocatable - used + kept * cpu) // cpu
