"""The choice of voters (fedrender.scheduler.voters) against brute force over every valid choice."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedrender.scheduler.voters import LEVELS, MAX_VOTERS, Seat, choose_voters, voter_count

CLUSTERS = ["a", "b", "c", "d", "e"]
GROUPS = {"region": ["", "eu", "us", "ap"], "zone": ["", "z1", "z2", "z3"], "provider": ["", "aws", "gcp", "azure"]}


def group_of(seat: Seat, level: str) -> str:
    """A cluster without a group of the level is a group of its own."""
    name = seat.cluster if level == "cluster" else getattr(seat, level)
    return f"{level} {name}" if name else f"cluster {seat.cluster}"


def cost(members: Sequence[Seat], previous: Mapping[int, bool], voters: Collection[int],
         levels: Sequence[str] = LEVELS) -> tuple[int, ...]:
    """What the choice minimises, most important first: a majority in a cluster, region, zone, provider, votes
    changed, then the sum of squares of votes per cluster, region, zone and provider."""
    count = len(voters)
    tallies = [Counter(group_of(s, level) for s in members if s.id in voters) for level in levels]
    changed = sum(previous[s.id] != (s.id in voters) for s in members if s.id in previous)
    return (*(int(max(t.values(), default=0) * 2 > count) for t in tallies), changed,
            *(sum(v * v for v in t.values()) for t in tallies))


def every_valid_choice(members: Sequence[Seat]) -> list[frozenset[int]]:
    """Every set of voters with the right number of voters (at most 7, odd) that includes every arbiter."""
    arbiters = frozenset(s.id for s in members if s.arbiter_only)
    data = [s.id for s in members if not s.arbiter_only]
    wanted = voter_count(len(members)) - len(arbiters)
    return [arbiters | frozenset(chosen) for chosen in combinations(data, wanted)]


@st.composite
def member_sets(draw: st.DrawFn) -> tuple[list[Seat], dict[int, bool], str]:
    """1..10 members over up to 5 clusters, each with a region, zone and provider drawn on their own (or none),
    so that providers cross regions; at most one arbiter; previous votes for a random part of them and for
    members that are gone, any number of voters."""
    groups = {c: {level: draw(st.sampled_from(names)) for level, names in GROUPS.items()} for c in CLUSTERS}
    homes = draw(st.lists(st.sampled_from(CLUSTERS), min_size=1, max_size=10))
    ordinals: Counter[str] = Counter()
    members = []
    ids = draw(st.permutations(range(12)))
    for index, cluster in enumerate(homes):
        members.append(Seat(ids[index], cluster, ordinal=ordinals[cluster], **groups[cluster]))
        ordinals[cluster] += 1
    if draw(st.booleans()):
        cluster = draw(st.sampled_from(CLUSTERS))
        members.append(Seat(ids[len(homes)], cluster, arbiter_only=True, **groups[cluster]))
    previous = draw(st.dictionaries(st.sampled_from(range(12)), st.booleans()))
    return members, previous, draw(st.sampled_from(CLUSTERS))


def check(members: Sequence[Seat], previous: Mapping[int, bool], voting_voters: Collection[int],
          levels: Sequence[str]) -> None:
    best = min(cost(members, previous, choice, levels) for choice in every_valid_choice(members))
    assert cost(members, previous, voting_voters, levels) == best


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
    check(members, previous, voting.voters, LEVELS)
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


@settings(max_examples=200, deadline=None)
@given(member_sets(), st.lists(st.sampled_from(LEVELS[1:]), unique=True))
def test_only_the_levels_asked_for_count(case: tuple[list[Seat], dict[int, bool], str], levels: list[str]) -> None:
    """A pack that caps fewer levels: the majorities at the others don't count (cluster always does)."""
    members, previous, init = case
    asked = [level for level in LEVELS if level == "cluster" or level in levels]
    check(members, previous, choose_voters(members, previous, init, levels).voters, asked)


@settings(max_examples=200, deadline=None)
@given(member_sets())
def test_the_greedy_fallback_is_exact_for_clusters_and_regions(case: tuple[list[Seat], dict[int, bool], str]) -> None:
    """Beyond the budget the greedy choice is taken: clusters and regions are a laminar family, so it is exact."""
    members, previous, init = case
    voting = choose_voters(members, previous, init, ("cluster", "region"), budget=0)
    check(members, previous, voting.voters, ("cluster", "region"))


def test_a_provider_majority_is_avoided_across_regions() -> None:
    """The issue's case: us-1 (gcp) 3 members, ap-1 and eu-1 (aws) 2 each, eu-2 (alibabacloud) 2, each in its own
    region. The first 7 _ids give aws 4 of the 7 votes; the choice gives aws 3 (2-2-2-1, as even)."""
    homes = [("us-1", "gcp"), ("ap-1", "aws"), ("eu-1", "aws"), ("eu-2", "alibabacloud")]
    members = [Seat(i, homes[i % 4][0], homes[i % 4][0], i // 4, provider=homes[i % 4][1]) for i in range(9)]
    voting = choose_voters(members, {}, "us-1")
    per_provider = Counter(s.provider for s in members if s.id in voting.voters)
    assert per_provider == {"gcp": 2, "aws": 3, "alibabacloud": 2}
    assert voting.voters == {0, 1, 2, 3, 4, 5, 7}
    assert choose_voters(members, {}, "us-1", ("cluster", "region")).voters == frozenset(range(7))  # aws 4 of 7


def test_a_provider_majority_moves_a_vote_and_says_why() -> None:
    """a and b (aws) held 2 of the 3 votes: b's vote moves to c (gcp), and both changes name the provider."""
    members = [Seat(0, "a", "eu", provider="aws"), Seat(1, "b", "us", provider="aws"),
               Seat(2, "d", "ap", provider="gcp"), Seat(3, "e", "sa", provider="azure")]
    voting = choose_voters(members, {0: True, 1: True, 2: True, 3: False}, "a")
    assert voting.voters == {0, 2, 3}
    assert [(c.id, c.before, c.after) for c in voting.changes] == [(1, 1, 0), (3, 0, 1)]
    assert all("provider aws would hold 2 of the 3 votes, a majority" in c.reason for c in voting.changes)


def test_beyond_the_budget_the_greedy_choice_is_taken() -> None:
    """25 clusters of one member: 480,700 compositions of 7 votes, above the budget; the greedy choice still
    gives each of 7 clusters one vote, the first _ids."""
    members = [Seat(i, f"c{i:02}", f"r{i % 5}") for i in range(25)]
    assert choose_voters(members, {}, "c00").voters == frozenset(range(7))


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown voting levels rack"):
        choose_voters([Seat(0, "a")], {}, "a", ("cluster", "rack"))


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
    assert voting.changes[0].reason.startswith("only 6 members that voted remain (member 5 leaves), fewer than the 7 "
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
