"""The choice of voters (fedrender.scheduler.voters) against brute force over every valid choice."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.scheduler.voters import MAX_VOTERS, Seat, choose_voters, voter_count

CLUSTERS = ["a", "b", "c", "d"]
REGIONS = ["", "eu", "us", "ap"]


def region_of(seat: Seat) -> str:
    """A cluster without a region is a region of its own."""
    return f"region {seat.region}" if seat.region else f"cluster {seat.cluster}"


def cost(members: Sequence[Seat], previous: Mapping[int, bool], voters: Collection[int]) -> tuple[int, ...]:
    """What the choice minimises, most important first: a cluster majority, a region majority, votes changed,
    then the sum of squares of votes per cluster and per region."""
    count = len(voters)
    per_cluster = Counter(s.cluster for s in members if s.id in voters)
    per_region = Counter(region_of(s) for s in members if s.id in voters)
    changed = sum(previous[s.id] != (s.id in voters) for s in members if s.id in previous)
    return (int(max(per_cluster.values(), default=0) * 2 > count), int(max(per_region.values(), default=0) * 2 > count),
            changed, sum(v * v for v in per_cluster.values()), sum(v * v for v in per_region.values()))


def every_valid_choice(members: Sequence[Seat]) -> list[frozenset[int]]:
    """Every set of voters with the right number of voters (at most 7, odd) that includes every arbiter."""
    arbiters = frozenset(s.id for s in members if s.arbiter_only)
    data = [s.id for s in members if not s.arbiter_only]
    wanted = voter_count(len(members)) - len(arbiters)
    return [arbiters | frozenset(chosen) for chosen in combinations(data, wanted)]


@st.composite
def member_sets(draw: st.DrawFn) -> tuple[list[Seat], dict[int, bool], str]:
    """1..10 members over up to 4 clusters (each with a region, or none), at most one arbiter; previous votes
    for a random part of them and for members that are gone, any number of voters."""
    regions = {c: draw(st.sampled_from(REGIONS)) for c in CLUSTERS}
    homes = draw(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=10))
    ordinals: Counter[str] = Counter()
    members = []
    ids = draw(st.permutations(range(12)))
    for index, cluster in enumerate(homes):
        members.append(Seat(ids[index], cluster, regions[cluster], ordinals[cluster]))
        ordinals[cluster] += 1
    if draw(st.booleans()):
        cluster = draw(st.sampled_from(CLUSTERS))
        members.append(Seat(ids[len(homes)], cluster, regions[cluster], 0, arbiter_only=True))
    previous = draw(st.dictionaries(st.sampled_from(range(12)), st.booleans()))
    return members, previous, draw(st.sampled_from(CLUSTERS))


@settings(max_examples=400, deadline=None)
@given(member_sets(), st.randoms(use_true_random=False))
def test_voters_are_the_best_valid_choice(case: tuple[list[Seat], dict[int, bool], str], rnd: random.Random) -> None:
    members, previous, init = case
    voting = choose_voters(members, previous, init)
    count = len(voting.voters)
    assert voting.count == count <= MAX_VOTERS
    assert count % 2 == 1
    assert count == min(len(members), MAX_VOTERS) or count == len(members) - 1  # as many as odd allows
    assert {s.id for s in members if s.arbiter_only} <= voting.voters <= {s.id for s in members}
    best = min(cost(members, previous, choice) for choice in every_valid_choice(members))
    assert cost(members, previous, voting.voters) == best
    # Each vote that changes is reported, with a reason, and only those.
    changed = {s.id for s in members if s.id in previous and previous[s.id] != (s.id in voting.voters)}
    assert {c.id for c in voting.changes} == changed
    for change in voting.changes:
        assert (change.before, change.after) == (int(previous[change.id]), int(change.id in voting.voters))
        assert change.reason
    # The order of the members does not matter.
    shuffled = list(members)
    rnd.shuffle(shuffled)
    assert choose_voters(shuffled, previous, init) == voting


def test_no_members_no_voters() -> None:
    assert choose_voters([], {}).voters == frozenset()


def test_voter_count_is_the_largest_odd_number_up_to_seven() -> None:
    assert [voter_count(n) for n in range(11)] == [0, 1, 1, 3, 3, 5, 5, 7, 7, 7, 7]


def test_a_fresh_set_votes_like_the_first_seven_ids() -> None:
    """Without a previous render, nine members round-robin over three clusters: _ids 0-6 vote, 3-2-2."""
    members = [Seat(i, "abc"[i % 3], "", i // 3) for i in range(9)]
    assert choose_voters(members, {}, "a").voters == frozenset(range(7))


def test_after_failover_and_scale_down_seven_of_eight_vote() -> None:
    """The issue's case: of 9 members _ids 0-6 voted; scale-down removed member 5, a voter, and kept the two
    that did not vote. Before, 6 of the 8 voted; now one of them gets the seventh vote, and says why."""
    places = {0: ("a", 0), 1: ("b", 0), 2: ("c", 0), 3: ("d", 0), 4: ("a", 1), 6: ("c", 1), 7: ("d", 1),
              8: ("a", 2)}
    members = [Seat(i, cluster, "", ordinal) for i, (cluster, ordinal) in places.items()]
    voting = choose_voters(members, {i: i < 7 for i in range(9)}, "a")
    assert len(voting.voters) == 7
    assert [(c.id, c.before, c.after) for c in voting.changes] == [(7, 0, 1)]  # d held 1 vote, a 2 (member 8)
    assert voting.changes[0].reason.startswith("only 6 members that voted remain (member 5 left), fewer than the 7 "
                                               "that vote; now 7 of the 8 members vote")


def test_a_cluster_majority_moves_a_vote_and_says_why() -> None:
    """Four voters remain after a scale-down, two of them in cluster a: three vote now, one per cluster."""
    members = [Seat(0, "a"), Seat(1, "b"), Seat(2, "c"), Seat(3, "a", ordinal=1)]
    voting = choose_voters(members, dict.fromkeys(range(4), True), "a")
    assert voting.voters == {0, 1, 2}
    (change,) = voting.changes
    assert (change.id, change.before, change.after) == (3, 1, 0)
    assert "4 members that voted remain, more than the 3 that vote" in change.reason
    assert "cluster a would hold 2 of the 3 votes, a majority" in change.reason


def test_a_region_majority_is_avoided_after_the_cluster_one() -> None:
    """Clusters a and b are both in region eu: of the voters a, b and d, eu held 2 of 3, so b's vote moves to e."""
    members = [Seat(0, "a", "eu"), Seat(1, "b", "eu"), Seat(2, "d", "us"), Seat(3, "e", "ap")]
    voting = choose_voters(members, {0: True, 1: True, 2: True, 3: False}, "a")
    assert voting.voters == {0, 2, 3}
    assert [(c.id, c.before, c.after) for c in voting.changes] == [(1, 1, 0), (3, 0, 1)]
    assert all("region eu would hold 2 of the 3 votes, a majority" in c.reason for c in voting.changes)


def test_the_arbiter_always_votes_and_counts_for_its_cluster() -> None:
    members = [Seat(0, "a"), Seat(1, "a", ordinal=1), Seat(2, "b"), Seat(3, "b", ordinal=1),
               Seat(4, "c", arbiter_only=True)]
    voting = choose_voters(members, {}, "a")
    assert voting.voters == {0, 1, 2, 3, 4}


def test_sticky_votes_are_kept_over_evener_ones() -> None:
    """3-3-1 holds no majority of 7; 3-2-2 would be evener but costs two changes, so nothing changes."""
    members = [Seat(i, c, "", o) for i, (c, o) in enumerate(
        [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2), ("c", 0), ("c", 1), ("c", 2)])]
    previous = {i: i in {0, 1, 2, 3, 4, 5, 6} for i in range(9)}
    voting = choose_voters(members, previous, "a")
    assert voting.voters == frozenset(range(7))
    assert voting.changes == ()
