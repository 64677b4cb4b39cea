"""Placement under spread constraints, Karmada's group ranking and tie rule (issue 13, sections 3 and 6).

Each test names what it shows; tests/test_placement_oracle.py holds the property against a brute-force search.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.composer.apply import divide
from fedrender.scheduler.feasible import Budget, Problem, completable
from fedrender.scheduler.groups import cluster_key, group_score, rank_groups
from fedrender.scheduler.placement import CLUSTER, Candidate, Infeasible, Slot, Spread, place
from tests.conftest import ROOT, run
from tests.topology import cluster_doc, pack_caps, write_inputs


def cluster(name: str, region: str, fits: int = 10, score: int | None = None, **groups: str) -> Candidate:
    return Candidate(name, True, fits=fits, score=min(fits, 10) if score is None else score,
                     groups={"region": region, **groups})


# --- section 3: the three faults ----------------------------------------------------------------------------


def test_cluster_max_groups_of_two_over_three_clusters_relaxes_the_cap() -> None:
    """maxGroups 2 by cluster over 3 eligible clusters: only two clusters may be used, so the no-majority cap is
    relaxed as with two eligible clusters (it was refused: 'a cluster would hold a majority')."""
    clusters = [cluster(n, n) for n in ("a", "b", "c")]
    placement = place(3, clusters, pack_caps(3), spreads=[Spread(CLUSTER, 1, 2)])
    assert placement.counts == {"a": 2, "b": 1}
    assert placement.usable[CLUSTER] == ["a", "b"]
    assert placement.available[CLUSTER] == ["a", "b", "c"]
    assert placement.caps[CLUSTER] == 3
    assert placement.chosen == {CLUSTER: ["a", "b"]}


def test_clusters_are_ranked_within_the_region_already_chosen() -> None:
    """Region maxGroups 1 and cluster maxGroups 2: r1 has more room in all (15 > 14) but r2 the better clusters
    (score 7 > 5): Karmada's group score picks r2, and the two clusters come from r2. Before, the region went by
    total room (r1), the clusters by room over every region (d, e), and nothing was left: 'can hold 0'."""
    clusters = [cluster("a", "r1", 5), cluster("b", "r1", 5), cluster("c", "r1", 5),
                cluster("d", "r2", 7), cluster("e", "r2", 7)]
    spreads = [Spread("region", 1, 1), Spread(CLUSTER, 1, 2)]
    placement = place(3, clusters, pack_caps(3), spreads=spreads)
    assert placement.counts == {"d": 2, "e": 1}
    assert placement.chosen == {"region": ["r2"], CLUSTER: ["d", "e"]}
    # Chosen the other way round (cluster constraint first in the spec), the result is the same.
    assert place(3, clusters, pack_caps(3), spreads=spreads[::-1]) == placement


def test_the_region_chosen_first_leaves_its_own_clusters_to_rank() -> None:
    """r1 wins on score; its clusters are then ranked among themselves, never against r2's bigger ones."""
    clusters = [cluster("a", "r1", 4, score=9), cluster("b", "r1", 3, score=9), cluster("c", "r1", 2, score=9),
                cluster("d", "r2", 50, score=1), cluster("e", "r2", 50, score=1)]
    placement = place(3, clusters, pack_caps(3), spreads=[Spread("region", 1, 1), Spread(CLUSTER, 1, 2)])
    assert placement.chosen == {"region": ["r1"], CLUSTER: ["a", "b"]}
    assert placement.counts == {"a": 2, "b": 1}


def test_group_ranking_uses_the_score() -> None:
    """Equal room: the region whose clusters score higher is chosen (it went by name: 'eu' before 'us')."""
    clusters = [cluster("a", "eu", 10, score=1), cluster("b", "us", 10, score=9)]
    placement = place(1, clusters, pack_caps(1), spreads=[Spread("region", 1, 1)])
    assert placement.counts == {"b": 1}
    assert rank_groups(clusters, "region", 1, 1, 0) == ["us", "eu"]


def test_group_ranking_counts_room_up_to_the_groups_share_before_score() -> None:
    """Karmada's calcGroupScore: room counts up to ceil(members / minGroups), then the average score decides."""
    small = [cluster("a", "eu", 2, score=10)]
    large = [cluster("b", "us", 9, score=1)]
    assert rank_groups(small + large, "region", 5, 1, 0) == ["us", "eu"]  # 2 < 5: room decides
    assert rank_groups(small + large, "region", 2, 1, 0) == ["eu", "us"]  # both reach 2: score decides


def _karmada(scores: list[int], replicas: list[int]) -> list[Candidate]:
    return [Candidate(f"member{i + 1}", True, fits=r, score=s) for i, (s, r) in enumerate(zip(scores, replicas,
                                                                                                strict=True))]


@pytest.mark.parametrize(("clusters1", "clusters2", "group1_wins"), [
    # karmada pkg/scheduler/core/spreadconstraint/group_clusters_test.go Test_CalcGroupScore, the Divided cases
    # (ids 3-6): 100 replicas, minGroups 2, no cluster spread constraint.
    (_karmada([100, 100, 0, 0, 0], [30, 30, 30, 10, 10]), _karmada([100] * 5, [10, 10, 10, 5, 5]), True),
    (_karmada([100, 100, 0, 0, 0], [10, 10, 10, 10, 5]), _karmada([100] * 5, [10, 10, 10, 5, 5]), True),
    (_karmada([100, 100, 0, 0, 0], [10, 10, 10, 5, 5]), _karmada([100] * 5, [10, 10, 10, 5, 5]), False),
    (_karmada([0] * 5, [100] * 5), _karmada([100] * 5, [50] * 5), False),
])
def test_group_score_follows_karmadas_table(clusters1: list[Candidate], clusters2: list[Candidate],
                                            group1_wins: bool) -> None:
    assert (group_score(clusters1, 100, 2, 0) >= group_score(clusters2, 100, 2, 0)) is group1_wins


def test_clusters_rank_by_score_then_room_then_name() -> None:
    """Karmada's sortClusters (pkg/scheduler/core/spreadconstraint/util.go) with AvailableReplicas descending."""
    clusters = [Candidate("b", True, fits=5, score=1), Candidate("a", True, fits=5, score=1),
                Candidate("c", True, fits=9, score=1), Candidate("d", True, fits=1, score=3)]
    assert [c.name for c in sorted(clusters, key=cluster_key)] == ["d", "c", "a", "b"]


def test_regions_are_chosen_for_high_availability_before_score() -> None:
    """A deliberate difference from Karmada: region maxGroups 1 picks r2, whose three clusters can hold one
    member each (no cluster majority), over r1, which scores higher but has only two clusters."""
    clusters = [cluster("a", "r1", 10, score=10), cluster("b", "r1", 10, score=10),
                cluster("c", "r2", 10, score=1), cluster("d", "r2", 10, score=1), cluster("e", "r2", 10, score=1)]
    placement = place(3, clusters, pack_caps(3), spreads=[Spread("region", 1, 1)])
    assert placement.counts == {"c": 1, "d": 1, "e": 1}
    # Without room for that in r2, r1 it is, with the cap relaxed (and a warning from the pack's checks).
    tight = [*clusters[:2], *(Candidate(c.name, True, fits=1, score=1, groups=c.groups) for c in clusters[2:3])]
    assert place(3, tight, pack_caps(3), spreads=[Spread("region", 1, 1)]).counts == {"a": 2, "b": 1}


def test_a_forced_majority_still_keeps_data_in_a_second_region() -> None:
    """maxGroups 2 by cluster forces a cluster majority whichever two clusters are chosen; of those choices, two
    clusters in two regions come before two in one region, whatever the names (found by a new-user walkthrough:
    a and b, both in eu, were chosen, and losing eu lost every copy of the data)."""
    clusters = [cluster("a", "eu"), cluster("b", "eu"), cluster("c", "us"), cluster("d", "us"), cluster("e", "ap")]
    placement = place(3, clusters, pack_caps(3), spreads=[Spread(CLUSTER, 1, 2)])
    assert placement.counts == {"a": 2, "c": 1}
    three = place(3, clusters[:3], pack_caps(3), spreads=[Spread(CLUSTER, 1, 2)])
    assert three.counts == {"a": 2, "c": 1}


def test_a_region_with_more_clusters_comes_first_when_a_majority_is_forced() -> None:
    """Region maxGroups 1 and cluster maxGroups 2: region aa has one cluster and zz two. Both force a majority,
    but zz keeps the data in two clusters; the name used to decide (aa: all three members in c)."""
    clusters = [cluster("a", "zz"), cluster("b", "zz"), cluster("c", "aa")]
    placement = place(3, clusters, pack_caps(3), spreads=[Spread("region", 1, 1), Spread(CLUSTER, 1, 2)])
    assert placement.counts == {"a": 2, "b": 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["r1", "r2", "r3"]), min_size=2, max_size=6), st.integers(1, 3),
       st.sampled_from([3, 4, 5]))
def test_a_cluster_limit_spreads_its_clusters_over_regions(regions: list[str], max_clusters: int,
                                                            members: int) -> None:
    """With room everywhere and maxGroups by cluster, the clusters chosen lie in as many regions as the limit
    allows (up to three), whatever the names and the order of the snapshot."""
    clusters = [cluster(f"c{i}", region) for i, region in enumerate(regions)]
    placement = place(members, clusters, pack_caps(members), spreads=[Spread(CLUSTER, 1, max_clusters)])
    used = {region for name, region in zip((c.name for c in clusters), regions, strict=True)
            if placement.counts.get(name)}
    assert len(used) == min(max_clusters, len(set(regions)), len(placement.counts), 3)


def test_every_choice_of_groups_is_tried_before_refusing() -> None:
    """The best-ranked region has no room for all members: the next one is used, not a refusal."""
    clusters = [cluster("a", "r1", 1, score=10), cluster("b", "r2", 3, score=1)]
    assert place(3, clusters, pack_caps(3), spreads=[Spread("region", 1, 1)]).counts == {"b": 3}
    with pytest.raises(Infeasible, match="none of the other choices fits either"):
        place(4, clusters, pack_caps(4), spreads=[Spread("region", 1, 1)])


def test_scale_down_keeps_the_groups_min_groups_needs() -> None:
    """Removing a member never empties a cluster whose group a spread's minGroups still needs."""
    previous = [Slot(0, "c0", 0), Slot(1, "c1", 0), Slot(2, "c1", 1), Slot(3, "c2", 0), Slot(4, "c2", 1)]
    clusters = [Candidate("c0", True, fits=0, groups={"zone": "z1", "provider": "p1"}),
                Candidate("c1", True, fits=0, groups={"zone": "z2", "provider": "p1"}),
                Candidate("c2", True, fits=0, groups={"zone": "z1", "provider": "p2"})]
    placement = place(4, clusters, pack_caps(4), previous=previous, spreads=[Spread(CLUSTER, 3, None)])
    assert set(placement.counts) == {"c0", "c1", "c2"}


# --- section 6: Karmada's tie rule, and scale-up -----------------------------------------------------------


def test_a_tie_goes_to_the_cluster_with_fewer_members() -> None:
    """Webster's priorities tie (3/3 = 1/1) between a holding one member and b holding none: b gets the next,
    as in Karmada's WebsterPriorityQueue.Less (pkg/util/helper/webstermethod.go). It went to a (the name)."""
    clusters = [Candidate("a", True, fits=10, weight=3), Candidate("b", True, fits=10, weight=1)]
    assert place(2, clusters, 2).counts == {"a": 1, "b": 1}


def webster(seats: int, votes: Mapping[str, int], initial: Mapping[str, int]) -> dict[str, int]:
    """Karmada's AllocateWebsterSeats (pkg/util/helper/webstermethod.go) with its default tie rule: the highest
    votes / (2 * seats + 1), then fewer seats, then the smaller name."""
    parties = {name: initial.get(name, 0) for name in {*votes, *initial}}
    heap = [(-(votes.get(n, 0) / (2 * s + 1)), s, n) for n, s in parties.items()]
    heapq.heapify(heap)
    for _ in range(seats):
        _, s, name = heapq.heappop(heap)
        heapq.heappush(heap, (-(votes.get(name, 0) / (2 * (s + 1) + 1)), s + 1, name))
    return {n: s for _, s, n in heap if s}


WEIGHTS = st.lists(st.integers(1, 6), min_size=2, max_size=6).map(lambda ws: {f"c{i}": w for i, w in enumerate(ws)})


@settings(max_examples=150, deadline=None)
@given(WEIGHTS, st.integers(1, 20))
def test_a_fresh_division_is_karmadas_webster_division(weights: dict[str, int], total: int) -> None:
    """With room to spare and no caps, members are divided exactly as Karmada divides replicas by these weights
    (and as fedrender's own preview divides them: composer.apply.divide)."""
    clusters = [Candidate(n, True, fits=100, weight=w) for n, w in weights.items()]
    counts = place(total, clusters, total).counts
    assert counts == webster(total, weights, {})
    assert counts == {n: c for n, c in divide(total, weights).items() if c}


@settings(max_examples=150, deadline=None)
@given(WEIGHTS, st.data())
def test_scale_up_divides_only_the_new_members(weights: dict[str, int], data: st.DataObject) -> None:
    """Scale-up keeps every member and divides the new ones by Webster's method with the members already placed
    as its initial seats (AllocateWebsterSeats' initialAssignments); Karmada's static weights re-divide the
    whole total instead (assignByStaticWeightStrategy, pkg/scheduler/core/assignment.go)."""
    kept = {n: data.draw(st.integers(0, 3), label=n) for n in weights}
    previous, next_id = [], 0
    for name, count in kept.items():
        for ordinal in range(count):
            previous.append(Slot(next_id, name, ordinal))
            next_id += 1
    extra = data.draw(st.integers(0, 8), label="extra")
    clusters = [Candidate(n, True, fits=100, weight=w) for n, w in weights.items()]
    total = len(previous) + extra
    placement = place(total, clusters, total, previous=previous)
    assert all(slot in placement.slots for slot in previous)
    assert placement.counts == webster(extra, weights, kept)


# --- through the command line -------------------------------------------------------------------------------


def explain(tmp: Path, clusters: list[dict[str, Any]], members: int,
            spreads: list[dict[str, Any]] | None = None) -> Any:
    return run(["explain", *write_inputs(tmp, clusters, members, spreads), "-o", "json"])


def test_cluster_max_groups_two_renders_with_a_warning(tmp_path: Path) -> None:
    """Issue 13 section 3, first example, through the pack: no 'a cluster would hold a majority' error."""
    result = explain(tmp_path, [cluster_doc(n, f"r-{n}", provider=f"p-{n}") for n in ("a", "b", "c")], 3,
                        [{"spreadByField": "cluster", "maxGroups": 2}])
    assert result.exit_code == 0, result.stderr
    inst = yaml.safe_load(result.stdout)["instances"][0]
    assert sorted(inst["placement"].values()) == [1, 2]
    assert any("only two clusters are eligible and allowed by spreadConstraints' maxGroups" in w
               and "raise maxGroups" in w for w in inst["warnings"])


def test_region_one_and_cluster_two_place_within_the_region(tmp_path: Path) -> None:
    """Issue 13 section 3, second example, through the pack: it reported that the clusters can hold 0."""
    clusters = [cluster_doc("a", "r1", cpu=5), cluster_doc("b", "r1", cpu=5), cluster_doc("c", "r1", cpu=5),
                cluster_doc("d", "r2", cpu=7), cluster_doc("e", "r2", cpu=7)]
    result = explain(tmp_path, clusters, 3, [{"spreadByField": "region", "maxGroups": 1},
                                                {"spreadByField": "cluster", "maxGroups": 2}])
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load(result.stdout)["instances"][0]["placement"] == {"d": 2, "e": 1}


def test_explain_without_a_fault_reports_no_refusal(tmp_path: Path) -> None:
    result = explain(tmp_path, [cluster_doc("a", "r1"), cluster_doc("b", "r2")], 3,
                        [{"spreadByField": "region", "minGroups": 2, "maxGroups": 2}])
    assert result.exit_code == 0, result.stderr
    assert Counter(yaml.safe_load(result.stdout)["instances"][0]["placement"].values()) == Counter([2, 1])


def test_the_readme_lists_every_deliberate_difference_from_karmada_with_its_reason() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## How members are placed"):readme.index("## Specialising clusters")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| fedrender |")]
    assert rows
    assert all(len(row) == 3 and all(row) for row in rows), rows  # what fedrender does, what Karmada does, why
    for needle in ("majority of the votes", "A tie", "Scale-up divides only the new members", "up to `maxGroups`",
                   "zone and provider", "`spreadByLabel`"):
        assert any(needle in row[0] for row in rows), needle
    assert "as in Karmada." not in section  # spread constraints do more than Karmada's (zone, provider, labels)
    later = readme[readme.index("## Operating a database over time"):]
    assert "re-divide the whole total" in later[:later.index("\n## ", 3)]


def test_crossing_caps_are_met_by_the_search_where_filling_slot_by_slot_fails() -> None:
    """One member per region and per zone (caps that cross): filling by preference takes p (the best score)
    and then has nowhere for the third member; the exact search finds a, b, c."""
    clusters = [Candidate(n, True, fits=1, score=9 if n == "p" else 0, groups={"region": r, "zone": z})
                for n, r, z in (("p", "r1", "z1"), ("a", "r1", "z2"), ("b", "r2", "z1"), ("c", "r3", "z3"),
                                ("d", "r2", "z3"))]
    caps = {CLUSTER: 1, "region": 1, "zone": 1}
    assert place(3, clusters, caps).counts == {"a": 1, "b": 1, "c": 1}
    with pytest.raises(Infeasible):
        place(4, clusters, caps)


def test_the_search_gives_up_when_its_budget_is_spent() -> None:
    problem = Problem({"a": 1, "b": 1}, {"a": {"region": "r1"}, "b": {"region": "r2"}},
                      {("region", "r1"): 1, ("region", "r2"): 1})
    assert completable(problem, 2, Budget())
    assert not completable(problem, 2, Budget(0))
    assert not completable(problem, 3, Budget())


def test_a_refusal_within_the_groups_max_groups_chose_says_so() -> None:
    """minGroups 3 by region, but maxGroups 1 by a label leaves two regions whichever value is chosen: the refusal
    names the choice of groups and how many were tried, not only room (found by an attack, whose refusal blamed
    room that was plentiful)."""
    clusters = [Candidate(name, True, fits=10, score=10, groups={"region": region, "label:grp": value})
                for name, region, value in (("a", "r1", "g1"), ("b", "r2", "g1"), ("c", "r3", "g2"))]
    spreads = [Spread("label:grp", 1, 1), Spread("region", 3, None)]
    with pytest.raises(Infeasible) as refused:
        place(3, clusters, pack_caps(3), spreads=spreads)
    assert ("but only 2 could be used within the room and caps of the 3 that may hold members (r1, r2, r3) and "
            "within the groups spreadConstraints' maxGroups let members use (best first: label:grp g1; 2 choices of "
            "groups tried, none fits); free room in them, raise maxGroups, or lower minGroups to 2") \
        in refused.value.message
