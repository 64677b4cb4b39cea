"""How many members fit in a cluster, counted as Karmada's general estimator counts it.

Karmada v1.18 (``pkg/estimator/client/general.go``, ``maxAvailableReplicas``): the pod count left is
``allocatable.pods - allocated.pods - allocating.pods`` (0 or less: nothing fits). A member that requests
nothing fits as many times. Then one of two estimates, the smaller of it and the pod count winning:

- **resource models** (feature gate ``CustomizedClusterResourceModeling``, on by default), when the cluster's
  ``status.resourceSummary.allocatableModelings`` is not empty: ``buildModelNodes`` makes, for every grade of
  ``spec.resourceModels`` (sorted by grade, the first grade's minimum taken as 0, as Karmada's API server
  stores them: ``pkg/apis/cluster/mutation``), ``count`` nodes holding that grade's minimum of each resource
  and 110 pods; the scheduling simulator (``pkg/estimator/scheduling_simulator_components.go``) places members
  first-fit, so each node takes ``min over requested resources of floor(node / request)`` (at most 110) and
  the estimate is the sum over nodes. A resource the models don't describe is 0 on every node. Without
  ``spec.resourceModels`` or with a negative count Karmada falls back to the summary.

  Karmada's API server validates ``spec.resourceModels`` (``fedrender.models.cluster`` refuses what it refuses)
  but not ``status``, and its estimator takes what it finds: counts listed twice for a grade are added up, a
  grade the models don't define is ignored, a resource a model lists twice takes the last range's minimum.
  fedrender estimates the same and says each of these, and why a model node holds nothing, in the estimate's
  explanation (``explain``: capacity detail), and why the models were not used when they are not.
- **resource summary** otherwise: for every requested resource, a resource the cluster doesn't report fits
  nothing, else ``floor((allocatable - allocated - allocating) / request)``.

Units are Karmada's ``util.Resource`` (``pkg/util/resource.go``): CPU in millicores, everything else in whole
units, rounded up. A member's request is what Karmada derives from the pod template
(``AddPodTemplateRequest``/``AddPodRequest``): per container, limits fill in missing requests; per resource,
the larger of the containers' sum and the largest init container (as Kubernetes' scheduler counts a pod,
kubernetes ``pkg/api/v1/resource/helpers.go``); only resources ``util.Resource`` counts (cpu, memory,
ephemeral-storage, pods and scalar resources: extended, ``hugepages-*``, ``*kubernetes.io/*``,
``attachable-volumes-*``). Storage is not counted.

Members already running in the cluster (``kept``) are counted in its ``allocated``: their requests and pods
are added back before estimating from the summary, and they are added to what the models hold (the models
count each node by what is left on it, so those members stand where they run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Final, Literal

from fedrender.models.cluster import AllocatableModeling, ResourceModel, ResourceSummary
from fedrender.models.quantity import parse_quantity

MAX_PODS_PER_NODE: Final = 110
"""Pods each model node holds (``maxPodsCountPerNode`` in Karmada's general.go, Kubernetes' default)."""

Estimate = Literal["resourceModels", "resourceSummary"]
_NATIVE: Final = frozenset({"cpu", "memory", "ephemeral-storage", "pods"})


@dataclass(frozen=True)
class Fit:
    """Members that fit, a sentence saying what limits them, and which of Karmada's estimates gave it."""

    members: int
    explanation: str
    estimate: Estimate = "resourceSummary"


@dataclass(frozen=True)
class ModelGrade:
    """``count`` nodes of one grade, each holding ``capacity`` (in Karmada's units: CPU in millicores)."""

    grade: int
    count: int
    capacity: Mapping[str, int]


@dataclass(frozen=True)
class ResourceModels:
    """The nodes Karmada's estimator builds from a cluster's resource models, or why it can't (``unusable``:
    Karmada then estimates from the summary)."""

    grades: tuple[ModelGrade, ...] = ()
    unusable: str = ""
    notes: tuple[str, ...] = ()
    """What Karmada accepted and the estimate follows, worth saying (a grade counted twice, one not modelled)."""


@dataclass(frozen=True)
class ClusterResources:
    """What a cluster offers: free resources by the summary (None without one) and its resource models (None
    when the cluster has neither ``spec.resourceModels`` nor ``allocatableModelings``)."""

    free: Mapping[str, Fraction] | None
    models: ResourceModels | None = field(default=None)
    allocatable: Mapping[str, Fraction] = field(default_factory=dict)
    """``status.resourceSummary.allocatable`` (and ``pods``): members already there are counted back into the free
    room up to it, never beyond (a snapshot whose ``allocated`` misses them can't make a cluster bigger)."""


def counted(name: str) -> bool:
    """Whether Karmada's ``util.Resource`` keeps resource ``name`` (``Add``; ``lifted.IsScalarResourceName``)."""
    return (name in _NATIVE or "/" in name or name.startswith(("hugepages-", "attachable-volumes-")))


def _requests(resources: Mapping[str, Mapping[str, str]]) -> dict[str, Fraction]:
    merged = {**dict(resources.get("limits", {})), **dict(resources.get("requests", {}))}
    return {name: parse_quantity(value) for name, value in merged.items()}


def member_requests(containers: Sequence[Mapping[str, Mapping[str, str]]],
                    init_containers: Sequence[Mapping[str, Mapping[str, str]]] = ()) -> dict[str, Fraction]:
    """A member's request per resource, as Karmada reads a pod template: each request defaults to its limit;
    per resource the larger of the sum over ``containers`` and the largest of ``init_containers``. Resources
    ``util.Resource`` doesn't keep are left out. Shapes: each item is ``{"requests": {name: quantity},
    "limits": {...}}``."""
    total: dict[str, Fraction] = {}
    for resources in containers:
        for name, value in _requests(resources).items():
            total[name] = total.get(name, Fraction(0)) + value
    for resources in init_containers:
        for name, value in _requests(resources).items():
            total[name] = max(total.get(name, Fraction(0)), value)
    return {name: value for name, value in sorted(total.items()) if counted(name)}


def pod_requests(pod_spec: Mapping[str, Any]) -> dict[str, Fraction]:
    """Karmada's request of one pod of a pod template (``helper.GenerateReplicaRequirements``): the
    :func:`member_requests` of its ``containers`` and ``initContainers``, plus ``overhead``. Raises
    QuantityError for an amount that doesn't parse."""
    def resources(group: str) -> list[Mapping[str, Mapping[str, str]]]:
        containers = pod_spec.get(group)
        return [c.get("resources") or {} for c in containers if isinstance(c, Mapping)] \
            if isinstance(containers, list) else []

    total = member_requests(resources("containers"), resources("initContainers"))
    overhead = pod_spec.get("overhead")
    for name, value in (overhead.items() if isinstance(overhead, Mapping) else ()):
        if counted(name):
            total[name] = total.get(name, Fraction(0)) + parse_quantity(value)
    return {name: value for name, value in sorted(total.items()) if value}


def describe(requests: Mapping[str, Fraction]) -> str:
    """``cpu 500m, memory 512Mi``: requests as this module shows them (nothing: ``no requests``)."""
    return ", ".join(f"{name} {_show(name, value)}" for name, value in sorted(requests.items()) if value) \
        or "no requests"


def _units(name: str, value: Fraction) -> int:
    return math.ceil(value * 1000) if name == "cpu" else math.ceil(value)


def _show(name: str, value: Fraction) -> str:
    if name == "cpu":  # as Kubernetes writes a quantity canonically: whole cores without a suffix
        milli = math.ceil(value * 1000)
        return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"
    for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if value >= size and value % size == 0:
            return f"{value // size}{suffix}"
    return str(math.ceil(value))


def free_resources(summary: ResourceSummary | None) -> dict[str, Fraction] | None:
    """``allocatable - allocated - allocating`` per resource the cluster reports; None without a summary."""
    if summary is None:
        return None
    names = {*summary.allocatable, "pods"}
    return {name: parse_quantity(summary.allocatable.get(name, "0")) - parse_quantity(summary.allocated.get(name, "0"))
            - parse_quantity(summary.allocating.get(name, "0")) for name in sorted(names)}


def resource_models(models: Sequence[ResourceModel], modelings: Sequence[AllocatableModeling]) -> ResourceModels | None:
    """Karmada's ``buildModelNodes`` (v1.18 ``pkg/estimator/client/general.go``): None without ``models``
    (``spec.resourceModels``) and ``modelings`` (``allocatableModelings``); unusable (Karmada estimates from the
    summary) when either is empty or a count is negative; else the grades of ``models`` with their node counts
    (counts listed twice for a grade added up, grades the models don't define ignored, a resource listed twice
    in a model at its last range: as Karmada does), with a note for each of these."""
    if not modelings:
        return ResourceModels(unusable="status.resourceSummary.allocatableModelings is empty (Karmada's estimator "
                                       "uses the models only once the cluster reports them)") if models else None
    if not models:
        return ResourceModels(unusable="allocatableModelings is set but spec.resourceModels is empty")
    counts: dict[int, int] = {}
    listed: dict[int, int] = {}
    for modeling in modelings:
        if modeling.count < 0:
            return ResourceModels(unusable=f"allocatableModelings counts {modeling.count} nodes of grade "
                                           f"{modeling.grade} (Karmada's estimator refuses a negative count)")
        counts[modeling.grade] = counts.get(modeling.grade, 0) + modeling.count
        listed[modeling.grade] = listed.get(modeling.grade, 0) + 1
    ordered = sorted(models, key=lambda m: m.grade)
    modelled = {m.grade for m in models}
    notes = [f"allocatableModelings list grade {g} {_times(n)}: Karmada adds up their counts ({_nodes(counts[g])})"
             for g, n in sorted(listed.items()) if n > 1]
    notes += [f"allocatableModelings grade {g} ({_nodes(counts[g])}) is not a grade of spec.resourceModels: ignored, "
              "as Karmada ignores it" for g in sorted(counts) if g not in modelled and counts[g]]
    grades = []
    for index, model in enumerate(ordered):
        capacity: dict[str, int] = {}
        names = [item.name for item in model.ranges]
        notes += [f"grade {model.grade} lists {name} {_times(names.count(name))}: its last range counts, as in Karmada"
                  for name in sorted(set(names)) if names.count(name) > 1 and counts.get(model.grade, 0) > 0]
        for item in model.ranges:
            if counted(item.name):
                capacity[item.name] = 0 if index == 0 else _units(item.name, parse_quantity(item.min))
        capacity["pods"] = MAX_PODS_PER_NODE
        if counts.get(model.grade, 0) > 0:
            grades.append(ModelGrade(model.grade, counts[model.grade], capacity))
    written = [f"{item.name} {item.min}" for item in ordered[0].ranges if parse_quantity(item.min) != 0]
    if grades and grades[0].grade == ordered[0].grade and written:
        notes.append(f"grade {ordered[0].grade} nodes hold nothing: Karmada's API server sets the lowest grade's "
                     f"minimum to 0 (the snapshot says {', '.join(written)})")
    return ResourceModels(tuple(grades), notes=tuple(notes))


def _times(n: int) -> str:
    return "twice" if n == 2 else f"{n} times"


def _nodes(n: int) -> str:
    return f"{n} node{'s' if n != 1 else ''}"


def estimate(summary: ResourceSummary | None, requests: Mapping[str, Fraction],
             models: Sequence[ResourceModel] = ()) -> Fit:
    """Karmada's general estimate of how many members (pods with ``requests``) fit into the cluster."""
    built = resource_models(models, summary.allocatableModelings) if summary else None
    return estimate_free(ClusterResources(free_resources(summary), built, allocatable_resources(summary)), requests)


def allocatable_resources(summary: ResourceSummary | None) -> dict[str, Fraction]:
    """``status.resourceSummary.allocatable`` per resource (pods included, 0 when not reported)."""
    if summary is None:
        return {}
    return {name: parse_quantity(summary.allocatable.get(name, "0")) for name in sorted({*summary.allocatable, "pods"})}


def estimate_free(cluster: ClusterResources, requests: Mapping[str, Fraction], kept: int = 0) -> Fit:
    """:func:`estimate` from resources already computed; ``kept`` members of this kind already run there: the
    snapshot's ``allocated`` counts them, so their requests are added back to the free room, up to
    ``allocatable`` (a deliberate difference from Karmada, whose estimate is for new pods only; README)."""
    free = cluster.free
    if free is None:
        return Fit(0, "the cluster reports no resourceSummary")
    if kept:
        back = {name: kept * requests.get(name, Fraction(0)) for name in free}
        back["pods"] = Fraction(kept)
        free = {name: min(value + back[name], cluster.allocatable[name]) if name in cluster.allocatable
                else value + back[name] for name, value in free.items()}
    pods = max(0, _units("pods", free["pods"]))
    if pods <= 0:
        return Fit(0, "no pods left (allocatable - allocated - allocating pods is 0)")
    wanted = {name: _units(name, value) for name, value in sorted(requests.items())
              if counted(name) and name != "pods" and _units(name, value) > 0}
    if not wanted:
        unused = f"; the resource models are not used: {cluster.models.unusable}" \
            if cluster.models is not None and cluster.models.unusable else ""
        return Fit(pods, f"fits {pods} (pods: {pods} free){unused}")
    if cluster.models is not None and not cluster.models.unusable:
        return _by_models(cluster.models, wanted, pods, kept)
    fit = _by_summary(free, requests, wanted, pods)
    if cluster.models is not None:
        return Fit(fit.members, f"{fit.explanation}; the resource models are not used: {cluster.models.unusable}")
    return fit


def _by_summary(free: Mapping[str, Fraction], requests: Mapping[str, Fraction], wanted: Mapping[str, int],
                pods: int) -> Fit:
    best, limit = pods, f"pods: {pods} free"
    for name in wanted:
        if name not in free:
            return Fit(0, f"the cluster reports no allocatable {name}")
        available = free[name]
        if _units(name, available) <= 0:
            return Fit(0, f"{name}: nothing free ({_show(name, available)})")
        fits = _units(name, available) // wanted[name]
        if fits < best:
            best, limit = fits, f"{name}: {_show(name, available)} free, {_show(name, requests[name])} per member"
    return Fit(best, f"fits {best} ({limit})")


def _node_fits(capacity: Mapping[str, int], wanted: Mapping[str, int]) -> int:
    """``util.Resource.MaxDivided``: members one node of ``capacity`` takes."""
    return min([capacity["pods"], *(capacity.get(name, 0) // request for name, request in wanted.items())])


def _by_models(models: ResourceModels, wanted: Mapping[str, int], pods: int, kept: int) -> Fit:
    parts, total = [], 0
    for grade in models.grades:
        each = _node_fits(grade.capacity, wanted)
        total += grade.count * each
        parts.append(f"grade {grade.grade}: {_nodes(grade.count)} x {each}")
    per_member = ", ".join(f"{name} {_show(name, Fraction(units, 1000) if name == 'cpu' else Fraction(units))}"
                           for name, units in wanted.items())
    held = total + kept
    nodes = "; ".join(parts) if parts else "allocatableModelings count no node of a modelled grade"
    described = {name for grade in models.grades for name in grade.capacity}
    missing = [name for name in wanted if name not in described]
    notes = ([f"the models describe no {', '.join(missing)}: a model node holds none (Karmada counts it as 0)"]
             if missing and models.grades else []) + list(models.notes)
    kept_text = f", plus {kept} member{'s' if kept != 1 else ''} already there" if kept else ""
    kept_text += "".join(f"; {note}" for note in notes)
    if pods < held:
        return Fit(pods, f"fits {pods} (pods: {pods} free; the resource models hold {held}: {nodes}; "
                         f"{per_member} per member{kept_text})", "resourceModels")
    return Fit(held, f"fits {held} by the resource models ({nodes}; {per_member} per member{kept_text})",
               "resourceModels")
