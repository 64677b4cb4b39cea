"""How many members fit in a cluster, counted as Karmada's general estimator counts it.

Karmada (``pkg/estimator/client/general.go``): the pod count left is ``allocatable.pods - allocated.pods -
allocating.pods``; for every requested resource whose request is positive, a resource the cluster doesn't
report fits nothing, otherwise ``floor((allocatable - allocated - allocating) / request)``, with CPU counted
in millicores and everything else in whole units rounded up; the answer is the minimum of all of these.
A member's request is what Karmada derives from the pod template: per container, limits fill in missing
requests, and containers are summed. Storage is not counted. ``allocatableModelings`` are not used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from fedrender.models.cluster import ResourceSummary
from fedrender.models.quantity import parse_quantity


@dataclass(frozen=True)
class Fit:
    """Members that fit, and a sentence saying which resource limits them."""

    members: int
    explanation: str


def member_requests(containers: Sequence[Mapping[str, Mapping[str, str]]]) -> dict[str, Fraction]:
    """Sum of the containers' requests, each request defaulting to its limit (Karmada's pod template rule)."""
    total: dict[str, Fraction] = {}
    for resources in containers:
        merged = {**dict(resources.get("limits", {})), **dict(resources.get("requests", {}))}
        for name, value in merged.items():
            total[name] = total.get(name, Fraction(0)) + parse_quantity(value)
    return dict(sorted(total.items()))


def _units(name: str, value: Fraction) -> int:
    return math.ceil(value * 1000) if name == "cpu" else math.ceil(value)


def _show(name: str, value: Fraction) -> str:
    if name == "cpu":
        return f"{math.ceil(value * 1000)}m"
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


def estimate(summary: ResourceSummary | None, requests: Mapping[str, Fraction]) -> Fit:
    """Karmada's general estimate of how many members (pods with ``requests``) fit into the cluster."""
    return estimate_free(free_resources(summary), requests)


def estimate_free(free: Mapping[str, Fraction] | None, requests: Mapping[str, Fraction]) -> Fit:
    """:func:`estimate` from resources already computed by :func:`free_resources`."""
    if free is None:
        return Fit(0, "the cluster reports no resourceSummary")
    pods = max(0, _units("pods", free["pods"]))
    if pods <= 0:
        return Fit(0, "no pods left (allocatable - allocated - allocating pods is 0)")
    best, limit = pods, f"pods: {pods} free"
    for name, request in sorted(requests.items()):
        if _units(name, request) <= 0:
            continue
        if name not in free:
            return Fit(0, f"the cluster reports no allocatable {name}")
        available = free[name]
        if _units(name, available) <= 0:
            return Fit(0, f"{name}: nothing free ({_show(name, available)})")
        fits = _units(name, available) // _units(name, request)
        if fits < best:
            best, limit = fits, f"{name}: {_show(name, available)} free, {_show(name, request)} per member"
    return Fit(best, f"fits {best} ({limit})")
