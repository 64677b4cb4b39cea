"""Sticky placement over sequences of renders: scale up and down, capacity changes, clusters failing and
recovering. Each step feeds the previous step's slots back, as the state file does."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.scheduler.placement import CLUSTER, Candidate, Infeasible, Placement, Slot, Spread, place
from tests.topology import no_majority

REGIONS = ["eu", "us", "ap", "sa"]


@dataclass
class World:
    """A cluster's state: ready or not, free room (members of other workloads' space), and region."""

    ready: dict[str, bool]
    room: dict[str, int]
    region: dict[str, str]

    def candidates(self, previous: list[Slot]) -> list[Candidate]:
        own = Counter(s.cluster for s in previous)
        out = []
        for name in sorted(self.ready):
            fits = self.room[name] + own[name]  # the snapshot counts our own pods: they are added back
            ok = self.ready[name] and fits >= 1
            reason = "" if ok else ("is not Ready" if not self.ready[name] else "is full")
            out.append(Candidate(name, ok, reason, fits, score=min(fits, 10), keeps=self.ready[name],
                                 groups={"region": self.region[name]}))
        return out


def caps(total: int, candidates: list[Candidate], previous: list[Slot]) -> dict[str, int]:
    own = Counter(s.cluster for s in previous)
    holding = [c for c in candidates if c.eligible or (c.can_keep and own[c.name])]
    return {CLUSTER: no_majority(total, len(holding)),
            "region": no_majority(total, len({c.group("region") for c in holding}))}


worlds = st.integers(3, 7).flatmap(lambda n: st.builds(
    World,
    ready=st.fixed_dictionaries({f"c{i}": st.booleans() | st.just(True) for i in range(n)}),
    room=st.fixed_dictionaries({f"c{i}": st.integers(0, 6) for i in range(n)}),
    region=st.fixed_dictionaries({f"c{i}": st.sampled_from(REGIONS) for i in range(n)}),
))
steps = st.lists(st.tuples(st.integers(1, 12), worlds), min_size=1, max_size=5)


def check_step(previous: list[Slot], total: int, candidates: list[Candidate], cap: dict[str, int],
               placement: Placement) -> None:
    by_name = {c.name: c for c in candidates}
    counts = Counter(s.cluster for s in placement.slots)
    assert sum(counts.values()) == total
    assert sorted(s.id for s in placement.slots) == sorted({s.id for s in placement.slots})
    for name, count in counts.items():
        assert sorted(s.ordinal for s in placement.slots if s.cluster == name) == list(range(count))
    old = {s.id: s for s in previous}
    now = {s.id: s for s in placement.slots}
    kept_here = Counter(s.cluster for s in previous if s.id in now and now[s.id] == s)
    for slot in previous:
        lost = slot.cluster not in by_name or not by_name[slot.cluster].can_keep
        if slot.id in now and now[slot.id] != slot:
            assert lost, f"member {slot.id} moved although {slot.cluster} may keep it"
            assert any(m.id == slot.id and m.source == slot.cluster for m in placement.moves)
        if slot.id not in now:
            assert total < len(previous), f"member {slot.id} removed without a scale-down"
    assert len([s for s in previous if s.id not in now]) == max(0, len(previous) - total)
    for name, count in counts.items():
        gained = count - kept_here[name]
        if gained:  # new or moved members only go where there is room and the caps allow
            assert count <= by_name[name].fits
            assert count <= cap[CLUSTER]
    regions = Counter(by_name[s.cluster].group("region") for s in placement.slots)
    new_regions = {by_name[s.cluster].group("region") for s in placement.slots if s.id not in old or old[s.id] != s}
    for region in new_regions:
        assert regions[region] <= cap["region"]
    assert {m.id for m in placement.moves} <= set(old)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_sequences_of_renders_keep_members_put(sequence: list[tuple[int, World]]) -> None:
    previous: list[Slot] = []
    init = ""
    for total, world in sequence:
        candidates = world.candidates(previous)
        cap = caps(total, candidates, previous)
        try:
            placement = place(total, candidates, cap, previous=previous, previous_init=init)
        except Infeasible:
            continue  # nothing is written; the next render starts from the same state
        assert placement == place(total, list(reversed(candidates)), cap, previous=previous, previous_init=init)
        check_step(previous, total, candidates, cap, placement)
        if not previous:  # a fresh placement avoids a majority in any cluster wherever the caps allow
            assert max(Counter(s.cluster for s in placement.slots).values()) <= cap[CLUSTER]
        previous, init = placement.slots, placement.init_cluster


@settings(max_examples=100, deadline=None)
@given(worlds, st.integers(3, 12))
def test_a_recovered_cluster_gets_nothing_back(world: World, total: int) -> None:
    world.ready = dict.fromkeys(world.ready, True)
    first = world.candidates([])
    try:
        placement = place(total, first, caps(total, first, []))
    except Infeasible:
        return
    failed = next(iter(placement.counts))
    world.ready[failed] = False
    down = world.candidates(placement.slots)
    try:
        moved = place(total, down, caps(total, down, placement.slots), previous=placement.slots)
    except Infeasible:
        return
    assert moved.counts.get(failed, 0) == 0
    assert {m.source for m in moved.moves} == {failed}
    world.ready[failed] = True
    back = world.candidates(moved.slots)
    again = place(total, back, caps(total, back, moved.slots), previous=moved.slots)
    assert again.slots == moved.slots
    assert again.moves == []


def test_a_lost_init_cluster_hands_over_to_a_cluster_that_kept_members() -> None:
    previous = [Slot(0, "a", 0), Slot(1, "b", 0), Slot(2, "c", 0)]
    clusters = [Candidate("a", False, reason="is not Ready", keeps=False), Candidate("b", True, fits=1, score=1),
                Candidate("c", True, fits=1, score=1), Candidate("d", True, fits=50, score=10)]
    placement = place(3, clusters, 1, previous=previous, previous_init="a")
    assert placement.counts == {"b": 1, "c": 1, "d": 1}
    assert placement.init_cluster == "b"  # not d: its only member is new and can't see the live set


def test_scale_down_prefers_the_fullest_cluster_and_highest_ordinals() -> None:
    previous = [Slot(0, "a", 0), Slot(1, "b", 0), Slot(2, "c", 0), Slot(3, "a", 1), Slot(4, "b", 1)]
    clusters = [Candidate(n, True, fits=10) for n in "abc"]
    placement = place(3, clusters, 1, previous=previous)
    assert placement.slots == [Slot(0, "a", 0), Slot(1, "b", 0), Slot(2, "c", 0)]
    assert placement.removed == [Slot(3, "a", 1), Slot(4, "b", 1)]


def test_scale_down_drops_members_of_lost_clusters_before_healthy_ones() -> None:
    previous = [Slot(0, "a", 0), Slot(1, "b", 0), Slot(2, "c", 0), Slot(3, "a", 1), Slot(4, "c", 1)]
    clusters = [Candidate("a", True, fits=10), Candidate("b", False, reason="is not Ready", fits=10),
                Candidate("c", True, fits=10), Candidate("d", True, fits=10)]
    placement = place(4, clusters, 2, previous=previous)
    assert placement.removed == [Slot(1, "b", 0)]
    assert placement.moves == []


def test_scale_up_gives_new_members_the_smallest_free_ids() -> None:
    previous = [Slot(0, "a", 0), Slot(2, "b", 0), Slot(4, "c", 0)]
    clusters = [Candidate(n, True, fits=10) for n in "abc"]
    placement = place(5, clusters, 2, previous=previous)
    assert sorted(s.id for s in placement.slots) == [0, 1, 2, 3, 4]
    assert [s for s in placement.slots if s.id in (0, 2, 4)] == previous


def test_max_groups_keeps_members_in_the_groups_they_use() -> None:
    clusters = [Candidate(n, True, fits=10, groups={"region": r}) for n, r in
                [("a", "eu"), ("b", "us"), ("c", "ap"), ("d", "sa")]]
    previous = [Slot(0, "c", 0)]
    placement = place(3, clusters, 3, previous=previous, spreads=[Spread("region", 2, 2)])
    assert {by.group("region") for by in clusters if placement.counts.get(by.name)} == {"ap", "eu"}


def test_min_groups_that_cannot_be_met_are_infeasible() -> None:
    clusters = [Candidate(n, True, fits=10, groups={"region": "eu"}) for n in "ab"]
    with pytest.raises(Infeasible, match="need 2 regions, but only 1 have clusters that may hold members"):
        place(3, clusters, 3, spreads=[Spread("region", 2, None)])
