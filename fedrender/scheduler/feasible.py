"""Can ``need`` more members still be placed? An exact search, for when filling one slot at a time fell short.

Purely computational. Filling slot by slot in order of preference finds room whenever the caps nest (cluster
within region): every way of filling such caps until nothing fits places the same number. Caps that cross
(a provider spanning regions, zones) and ``minGroups`` can make an early choice block a later one; then the
placement asks this search, before each choice, whether the rest can still be placed, and takes the most
preferred choice that keeps it possible. The search is exhaustive within a budget of steps per placement
(:data:`BUDGET`, far more than small inputs need); past that it answers no, and the placement is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

BUDGET = 100_000
"""Search steps one placement may spend in all (every call of :func:`completable` for it together)."""


@dataclass
class Budget:
    """Search steps left; shared by the calls made for one placement, so that many choices of groups, each
    needing a search, cost no more than one long search."""

    left: int = BUDGET


@dataclass(frozen=True)
class Problem:
    """Room per cluster, the group of each cluster per capped level, and what each group may still take.

    ``room``: cluster -> members it may still take (capacity and its own cap); ``groups``: cluster ->
    {level: group}; ``residual``: (level, group) -> members the group may still take; ``minimums``: level ->
    (groups needed in all, groups already holding members); ``spread_groups``: cluster -> {level: group} for
    the levels of ``minimums``."""

    room: Mapping[str, int]
    groups: Mapping[str, Mapping[str, str]]
    residual: Mapping[tuple[str, str], int]
    minimums: Mapping[str, tuple[int, frozenset[str]]] = field(default_factory=dict)
    spread_groups: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class _Exhausted(Exception):
    pass


def completable(problem: Problem, need: int, budget: Budget) -> bool:
    """Whether ``need`` members can be added within the room, the residual caps and the minimum groups; False
    too when ``budget`` runs out first."""
    order = sorted((c for c, r in problem.room.items() if r > 0), key=lambda c: (-problem.room[c], c))
    suffix = [0] * (len(order) + 1)
    for i in range(len(order) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + problem.room[order[i]]
    residual = dict(problem.residual)
    opened = {level: set(used) for level, (_, used) in problem.minimums.items()}
    seen: set[tuple[object, ...]] = set()

    def missing() -> int:
        return max((wanted - len(opened[level]) for level, (wanted, _) in problem.minimums.items()), default=0)

    def search(i: int, left: int) -> bool:
        budget.left -= 1
        if budget.left < 0:
            raise _Exhausted
        short = missing()
        if left == 0:
            return short <= 0
        if i == len(order) or suffix[i] < left or short > left:
            return False
        key = (i, left, tuple(sorted(residual.items())),
               tuple(sorted((level, tuple(sorted(groups))) for level, groups in opened.items())))
        if key in seen:
            return False
        seen.add(key)
        name = order[i]
        caps = [(level, group) for level, group in problem.groups[name].items()]
        top = min([problem.room[name], left, *(residual[k] for k in caps if k in residual)])
        for take in range(top, -1, -1):
            added = []
            for k in caps:
                if k in residual:
                    residual[k] -= take
            if take:
                for level, group in problem.spread_groups.get(name, {}).items():
                    if level in opened and group not in opened[level]:
                        opened[level].add(group)
                        added.append((level, group))
            found = search(i + 1, left - take)
            for k in caps:
                if k in residual:
                    residual[k] += take
            for level, group in added:
                opened[level].discard(group)
            if found:
                return True
        return False

    try:
        return search(0, need)
    except _Exhausted:
        return False


def upper_bound(room: Mapping[str, int], groups: Mapping[str, Mapping[str, str]],
                residual: Mapping[tuple[str, str], int], levels: Sequence[str]) -> int:
    """At most how many members fit: for each capped level, the sum over its groups of the smaller of the
    group's residual and its clusters' room; the least of these. A quick refusal before any search."""
    best = sum(room.values())
    for level in levels:
        per_group: dict[str, int] = {}
        for name, r in room.items():
            group = groups[name].get(level)
            if group is not None:
                per_group[group] = per_group.get(group, 0) + r
        best = min(best, sum(min(total, residual.get((level, g), total)) for g, total in per_group.items()))
    return best
