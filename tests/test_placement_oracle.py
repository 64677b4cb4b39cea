"""Placement never refuses a placement its own rules allow: a brute-force search over every assignment of members
to clusters is the oracle. Small worlds (2-6 clusters in regions, zones, providers and values of a label, 1-7
members, spread constraints at every level, an optional earlier placement) keep it fast.

The rules, as README.md ("How members are placed", "Operating a database over time") states them, written here without
the scheduler's code:

* members kept from the earlier placement stay (a scale-down removes members of lost clusters first, then
  kept ones); new members go only to eligible clusters, within what fits there;
* ``maxGroups`` of a level lets members use that many of its groups (those of kept members included), chosen
  among the groups the coarser levels left; the caps (the pack's no-majority rule, mirrored below) are
  computed from the groups the choice leaves: fewer than three relax them;
* a group that gets new members stays within its cap; after a scale-down every group does;
* ``minGroups`` groups hold members (or all members, when fewer), and at least ``minGroups`` groups have clusters
  that may hold members (eligible, or keeping members), whatever the member count, as Karmada's scheduler
  refuses fewer (``select_clusters_by_cluster.go``, ``select_clusters_by_region.go``); a cluster without a
  value for the level (no such label) is in no group of it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fedrender.scheduler.placement import CLUSTER, Candidate, Infeasible, Slot, Spread, place
from tests.topology import CAPPED, no_majority

LABEL = "label:tier"
ORDER = ("provider", "region", "zone", LABEL, CLUSTER)
"""The levels whose maxGroups choose groups, coarsest first (README: "chosen coarsest level first")."""


def group_of(c: Candidate, level: str) -> str:
    return c.name if level == CLUSTER else c.groups.get(level, "")


@dataclass(frozen=True)
class World:
    total: int
    candidates: list[Candidate]
    spreads: list[Spread]
    previous: list[Slot]

    def caps(self, usable: Mapping[str, int]) -> dict[str, int]:
        return {level: no_majority(self.total, usable.get(level, 0)) for level in CAPPED}


# --- the oracle -----------------------------------------------------------------------------------------------


def kept_and_lost(world: World) -> tuple[Counter[str], int]:
    by_name = {c.name: c for c in world.candidates}
    kept = Counter(s.cluster for s in world.previous if s.cluster in by_name and by_name[s.cluster].can_keep)
    return kept, len(world.previous) - sum(kept.values())


def choices(world: World, pool: list[Candidate], kept: Counter[str]) -> Iterator[list[Candidate]]:
    """Every set of clusters the spread constraints' maxGroups may leave, coarser levels first."""
    limited = sorted((s for s in world.spreads if s.max_groups), key=lambda s: ORDER.index(s.level))

    def walk(i: int, clusters: list[Candidate]) -> Iterator[list[Candidate]]:
        if i == len(limited):
            yield clusters
            return
        level, most = limited[i].level, limited[i].max_groups
        assert most is not None
        groups = {group_of(c, level) for c in clusters}
        forced = {group_of(c, level) for c in clusters if kept[c.name]}
        size = min(max(most, len(forced)), len(groups))
        for extra in itertools.combinations(sorted(groups - forced), size - len(forced)):
            keep = forced | set(extra)
            yield from walk(i + 1, [c for c in clusters if group_of(c, level) in keep])

    yield from walk(0, pool)


def valid(world: World, counts: Mapping[str, int], capped: bool = True) -> bool:
    """Whether an assignment (members per cluster) keeps every rule (``capped=False``: every rule but the
    caps, which a scale-down keeps only where removing members can)."""
    return relaxed_levels(world, counts, capped) is not None


def relaxed_levels(world: World, counts: Mapping[str, int], capped: bool = True) -> int | None:
    """None when the assignment breaks a rule; else the fewest levels whose caps allow a majority (fewer than
    three groups left) under a choice of groups that allows the assignment."""
    by_name = {c.name: c for c in world.candidates}
    kept, _ = kept_and_lost(world)
    total = world.total
    if sum(counts.values()) != total or any(n < 0 for n in counts.values()):
        return None
    shrinking = total < sum(kept.values())
    for name in set(counts) | set(kept):
        count, held = counts.get(name, 0), kept[name]
        if shrinking and count > held:
            return None
        if not shrinking and count < held:
            return None
        if count > held and not (name in by_name and by_name[name].eligible and count <= by_name[name].fits):
            return None
    pool = [c for c in world.candidates if c.eligible or (c.can_keep and kept[c.name])]
    for spread in world.spreads:
        used = {group_of(by_name[n], spread.level) for n, count in counts.items() if count} - {""}
        if len(used) < min(spread.min_groups, total):
            return None
        if len({group_of(c, spread.level) for c in pool} - {""}) < spread.min_groups:
            return None
    if not capped:
        return 0
    new = {n for n, count in counts.items() if count > kept[n]}
    best: int | None = None
    for clusters in choices(world, pool, kept):
        names = {c.name for c in clusters}
        if not new <= names:
            continue
        caps = world.caps({level: len({group_of(c, level) for c in clusters}) for level in CAPPED})
        if all(_within(world, counts, new, level, caps[level], by_name, shrinking) for level in CAPPED):
            relaxed = sum(cap * 2 > total for cap in caps.values())
            best = relaxed if best is None else min(best, relaxed)
    return best


def _within(world: World, counts: Mapping[str, int], new: set[str], level: str, cap: int,
            by_name: Mapping[str, Candidate], shrinking: bool) -> bool:
    held: Counter[str] = Counter()
    grows: set[str] = set()
    for name, count in counts.items():
        group = group_of(by_name[name], level)
        held[group] += count
        if name in new:
            grows.add(group)
    return all(count <= cap for group, count in held.items() if shrinking or group in grows)


def assignments(world: World) -> Iterator[dict[str, int]]:
    names = [c.name for c in world.candidates]
    total = world.total

    def walk(i: int, left: int, acc: dict[str, int]) -> Iterator[dict[str, int]]:
        if i == len(names) - 1:
            yield {**acc, names[i]: left}
            return
        for take in range(left, -1, -1):
            yield from walk(i + 1, left - take, {**acc, names[i]: take})

    yield from walk(0, total, {})


def majority(world: World, counts: Mapping[str, int], levels: Collection[str] = CAPPED) -> bool:
    """A group of ``levels`` (cluster, region, zone, provider) holds more than half of the members."""
    by_name = {c.name: c for c in world.candidates}
    for level in levels:
        held: Counter[str] = Counter()
        for name, count in counts.items():
            held[group_of(by_name[name], level)] += count
        if any(count * 2 > world.total for group, count in held.items() if group):
            return True
    return False


# --- generated worlds ----------------------------------------------------------------------------------------


@st.composite
def worlds(draw: st.DrawFn) -> World:
    count = draw(st.integers(2, 6))
    candidates = []
    for i in range(count):
        state = draw(st.sampled_from(["eligible"] * 4 + ["keeps", "lost"]))
        fits = draw(st.integers(0, 4))
        candidates.append(Candidate(
            f"c{i}", state == "eligible", "" if state == "eligible" else f"c{i} is {state}", fits,
            score=draw(st.integers(0, 3)), weight=draw(st.sampled_from([1, 1, max(fits, 0)])),
            keeps=None if state == "eligible" else state == "keeps",
            groups={**{level: draw(st.sampled_from([f"{level[0]}{j}" for j in (1, 2, 3)]))
                       for level in ("region", "zone", "provider")},
                    LABEL: draw(st.sampled_from(["t1", "t2", ""]))}))
    spreads = []
    for level in ORDER:
        if draw(st.integers(0, 2)) == 0:
            low = draw(st.integers(1, 4))
            high = draw(st.one_of(st.none(), st.integers(low, low + 2)))
            spreads.append(Spread(level, low, high))
    previous: list[Slot] = []
    if draw(st.booleans()):
        names = [c.name for c in candidates] + ["gone"]
        ordinals: Counter[str] = Counter()
        for member_id in range(draw(st.integers(1, 6))):
            name = draw(st.sampled_from(names))
            previous.append(Slot(member_id, name, ordinals[name]))
            ordinals[name] += 1
    return World(draw(st.integers(1, 7)), candidates, draw(st.permutations(spreads)), previous)


@settings(max_examples=400, deadline=None)
@given(worlds())
def test_places_whenever_an_assignment_keeps_every_rule(world: World) -> None:
    allowed = [counts for counts in assignments(world) if valid(world, counts)]
    kept, _ = kept_and_lost(world)
    if not allowed and world.total < sum(kept.values()):  # a scale-down never leaves members it can't remove
        allowed = [counts for counts in assignments(world) if valid(world, counts, capped=False)]
        event("scale-down that can't meet the caps")
    try:
        placement = place(world.total, world.candidates, world.caps, previous=world.previous, spreads=world.spreads)
    except Infeasible as exc:
        refused = exc.message
    else:
        refused = ""
    if refused:
        assert not allowed, f"refused ({refused}) although {allowed[0]} keeps every rule"
        event("refused, rightly")
        return
    counts = {c.name: placement.counts.get(c.name, 0) for c in world.candidates}
    assert counts in allowed, f"{counts} breaks a rule; allowed: {allowed[:3]}"
    event("placed")
    # High availability first: the choice of groups relaxes the no-majority cap at as few levels as any choice
    # that lets the members fit, and no group holds a majority where its cap is not relaxed.
    if not world.previous:
        fewest = min(r for a in allowed if (r := relaxed_levels(world, a)) is not None)
        assert sum(cap * 2 > world.total for cap in placement.caps.values()) == fewest, placement.caps
        assert not majority(world, counts, {level for level, cap in placement.caps.items() if cap * 2 <= world.total})


def test_the_oracle_sees_the_fault_of_issue_13() -> None:
    """maxGroups 2 of 3 clusters: 3 members in 2 clusters keep the rules (the caps relax with two clusters)."""
    world = World(3, [Candidate(n, True, fits=5, groups={"region": n}) for n in ("a", "b", "c")],
                  [Spread(CLUSTER, 1, 2)], [])
    assert valid(world, {"a": 2, "b": 1, "c": 0})
    assert not valid(world, {"a": 1, "b": 1, "c": 1})  # three clusters: maxGroups 2 forbids it
    assert valid(world, {"a": 3, "b": 0, "c": 0})  # allowed (the caps relax), though fedrender spreads them
    placement = place(3, world.candidates, world.caps, spreads=world.spreads)
    assert sorted(placement.counts.values()) == [1, 2]


@pytest.mark.parametrize("counts", [{"a": 2, "b": 1}, {"a": 1, "b": 2}])
def test_the_oracle_accepts_either_cluster_majority_under_two_clusters(counts: dict[str, int]) -> None:
    world = World(3, [Candidate(n, True, fits=5) for n in ("a", "b")], [], [])
    assert valid(world, counts)

