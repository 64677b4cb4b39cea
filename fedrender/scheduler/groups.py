"""Which groups (providers, regions, zones, label values, clusters) may hold members under ``maxGroups``.

Purely computational. Karmada selects groups in ``pkg/scheduler/core/spreadconstraint``: clusters are ranked by
score, then available replicas, then name (``util.go`` ``sortClusters``); a group's score is
``calcGroupScore`` of ``group_clusters.go`` (the replicas its best clusters can take, up to the share the
group would hold, then their average score); ``select_groups.go`` picks the groups of the highest score.
fedrender ranks groups the same way, at every level (Karmada only ranks regions), and differs where
``README.md`` ("How members are placed") says: it lets members use up to ``maxGroups`` groups rather than
the fewest that satisfy ``minGroups``, and it prefers choices that leave three or more groups able to hold
members (see :func:`selections`), so that a voting majority is not forced on one group.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

CLUSTER = "cluster"
LEVEL_ORDER = ("provider", "region", "zone")
"""Coarsest first, as Karmada's topology nests them (provider > region > zone > cluster)."""
MAX_SELECTIONS = 512
"""How many choices of groups :func:`selections` offers at most (the best ranked ones)."""


class Member(Protocol):
    """What ranking needs of a cluster (``placement.Candidate`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def eligible(self) -> bool: ...
    @property
    def fits(self) -> int: ...
    @property
    def score(self) -> int: ...
    def group(self, level: str) -> str: ...


@dataclass(frozen=True)
class Spread:
    """Use at least ``min_groups`` and at most ``max_groups`` groups of ``level`` (FedState/Karmada semantics)."""

    level: str
    min_groups: int = 1
    max_groups: int | None = None

    def describe(self) -> str:
        """The constraint as the spec writes it, e.g. ``spreadByField: region, minGroups: 3``."""
        label = self.level.startswith("label:")
        field = f"spreadByLabel: {self.level[6:]}" if label else f"spreadByField: {self.level}"
        return f"{field}, minGroups: {self.min_groups}" + (f", maxGroups: {self.max_groups}" if self.max_groups else "")

    def plural(self, count: int = 2) -> str:
        """What ``count`` of its groups are called: ``clusters``, ``region``, ``values of label x``."""
        s = "s" if count != 1 else ""
        return f"value{s} of label {self.level[6:]}" if self.level.startswith("label:") else f"{self.level}{s}"


def short_of_groups(pool: Sequence[Member], spreads: Sequence[Spread]) -> tuple[Spread, list[str]] | None:
    """The first spread whose ``minGroups`` is more than the groups the clusters of ``pool`` make up (with those
    groups), else None. A cluster without a value for the level (no region, no such label) is in no group of it.

    Karmada refuses such a placement whatever the replicas ("the number of feasible clusters is less than
    spreadConstraint.MinGroups", ``select_clusters_by_cluster.go``; "the number of feasible region ...",
    ``select_clusters_by_region.go``; ``generateRegionInfo`` in ``group_clusters.go`` skips a cluster without a
    region); fedrender does the same at every level."""
    for spread in spreads:
        groups = sorted({c.group(spread.level) for c in pool} - {""})
        if len(groups) < spread.min_groups:
            return spread, groups
    return None


@dataclass(frozen=True)
class Selection:
    """The clusters that may hold members, and the groups chosen at each level a ``maxGroups`` limits."""

    clusters: frozenset[str]
    chosen: Mapping[str, tuple[str, ...]]


def level_rank(level: str) -> tuple[int, str]:
    """Sort key of a level, coarsest first: provider, region, zone, then labels, then cluster."""
    if level == CLUSTER:
        return (len(LEVEL_ORDER) + 1, "")
    return (LEVEL_ORDER.index(level), "") if level in LEVEL_ORDER else (len(LEVEL_ORDER), level)


def cluster_key(c: Member) -> tuple[int, int, str]:
    """Karmada's cluster order: higher score, then more available replicas (``fits``), then the smaller name."""
    return (-c.score, -c.fits, c.name)


def group_score(clusters: Sequence[Member], total: int, min_groups: int,
                cluster_min_groups: int) -> tuple[int, Fraction]:
    """Karmada's ``calcGroupScore`` (Divided replicas) of one group, as a pair compared lexicographically.

    Karmada walks the group's clusters in :func:`cluster_key` order, adding up their available replicas and
    scores, until it has ``max(cluster_min_groups, min_groups)`` clusters and ``ceil(total / min_groups)``
    replicas (or runs out of clusters); the score is ``min(replicas, target) * 1000 + average score`` of the
    clusters walked. The 1000 only makes replicas count before score for scores of 0-100; the pair (replicas,
    average score) orders groups the same way for any score range, and keeps the average exact (Karmada's
    integer division drops its fraction). Returns (replicas, average score)."""
    ranked = sorted(clusters, key=cluster_key)
    if not ranked:
        return (0, Fraction(0))
    target = math.ceil(total / max(min_groups, 1))
    need_clusters = max(cluster_min_groups, min_groups)
    available = score = 0
    for walked, c in enumerate(ranked, start=1):
        available += c.fits
        score += c.score
        if walked >= need_clusters and available >= target:
            return (target, Fraction(score, walked))
    return (min(available, target), Fraction(score, len(ranked)))


def rank_groups(pool: Sequence[Member], level: str, total: int, min_groups: int,
                cluster_min_groups: int) -> list[str]:
    """The groups of ``level`` among the eligible clusters of ``pool``, best first (clusters: Karmada's cluster
    order; other levels: Karmada's group score, then name)."""
    eligible = [c for c in pool if c.eligible]
    if level == CLUSTER:
        return [c.name for c in sorted(eligible, key=cluster_key)]
    members: dict[str, list[Member]] = {}
    for c in eligible:
        members.setdefault(c.group(level), []).append(c)

    def key(group: str) -> tuple[int, Fraction, str]:
        available, score = group_score(members[group], total, min_groups, cluster_min_groups)
        return (-available, -score, group)
    return sorted(members, key=key)


def selections(pool: Sequence[Member], kept: Mapping[str, int], spreads: Sequence[Spread],
               total: int) -> Iterator[Selection]:
    """Every way to choose the groups that may hold members, best ranked first (at most MAX_SELECTIONS).

    ``pool`` are the clusters that may hold members (eligible, or keeping members: their groups are always
    chosen). Levels with ``maxGroups`` are chosen coarsest first, each among the groups left by the levels
    before it, so a cluster is never ranked against clusters outside the regions already chosen. Each level
    gets as many groups as its ``maxGroups`` allows (never fewer: dropping groups voluntarily would only
    take away room and high availability). Without ``maxGroups`` there is one selection: every cluster."""
    limited = sorted((s for s in spreads if s.max_groups), key=lambda s: level_rank(s.level))
    cluster_min = max((s.min_groups for s in spreads if s.level == CLUSTER), default=0)

    def walk(index: int, clusters: list[Member], chosen: dict[str, tuple[str, ...]]) -> Iterator[Selection]:
        if index == len(limited):
            yield Selection(frozenset(c.name for c in clusters), dict(chosen))
            return
        spread = limited[index]
        assert spread.max_groups is not None
        used = {c.group(spread.level) for c in clusters if kept.get(c.name)}
        free = [g for g in rank_groups(clusters, spread.level, total, spread.min_groups, cluster_min) if g not in used]
        take = max(0, min(spread.max_groups - len(used), len(free)))
        for extra in itertools.combinations(free, take):
            keep = used | set(extra)
            chosen[spread.level] = tuple(sorted(keep))
            yield from walk(index + 1, [c for c in clusters if c.group(spread.level) in keep], chosen)

    yield from itertools.islice(walk(0, list(pool), {}), MAX_SELECTIONS)
