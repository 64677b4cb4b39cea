"""Tests for the scheduler: member placement (``place``) and Karmada's general capacity estimate (``estimate``)."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from fedrender.models.cluster import ResourceSummary
from fedrender.scheduler.capacity import Fit, estimate, member_requests
from fedrender.scheduler.placement import Candidate, Infeasible, Placement, Slot, place
from fedrender.scheduler.voters import Seat, choose_voters

SETTINGS = settings(deadline=None, max_examples=150)

F = Fraction
KI, MI, GI = 2**10, 2**20, 2**30
MAX_VOTERS = 7


def pack_cap(member_count: int, eligible_count: int) -> int:
    """Python mirror of ``maxMembersPerCluster`` in rules/mongodb/pack.yaml (CEL ints; ``/`` truncates).

    eligibleCount < 3 || memberCount < 3 ? memberCount
    : eligibleCount * ((memberCount - 1) / 2) >= memberCount ? (memberCount - 1) / 2
    : memberCount / 2
    """
    if eligible_count < 3 or member_count < 3:
        return member_count
    if eligible_count * ((member_count - 1) // 2) >= member_count:
        return (member_count - 1) // 2
    return member_count // 2


def voters_of(placement: Placement) -> list[Slot]:
    """The members that vote in a new set: the pack's ``roles.votes`` reads fedrender's choice (``member.voter``)."""
    chosen = choose_voters([Seat(s.id, s.cluster, "", s.ordinal) for s in placement.slots], {},
                           placement.init_cluster).voters
    return [s for s in placement.slots if s.id in chosen]


def cap_for(total: int, candidates: list[Candidate]) -> int:
    return pack_cap(total, sum(c.eligible for c in candidates))


# Cluster names are DNS labels and unique (Karmada Clusters are cluster-scoped objects). Short names from a
# small alphabet make prefixes ("a" < "a0" < "ab") and equal scores common, so name tie-breaks get exercised.
NAMES = st.text(alphabet="ab0-", min_size=1, max_size=4).map(lambda s: f"c{s}z")


BOOLEANS = st.booleans()


@st.composite
def candidate_lists(draw: st.DrawFn, eligibility: st.SearchStrategy[bool] = BOOLEANS) -> list[Candidate]:
    """2..12 clusters with random names and eligibility, fits 0..20 and scores -5..10."""
    names = draw(st.lists(NAMES, min_size=2, max_size=12, unique=True))
    out = []
    for name in names:
        eligible = draw(eligibility)
        out.append(Candidate(name=name, eligible=eligible, reason="" if eligible else f"{name} is not Ready",
                             fits=draw(st.integers(0, 20)), score=draw(st.integers(-5, 10))))
    return out


TOTALS = st.integers(1, 50)


def room(candidates: list[Candidate], cap: int) -> int:
    return sum(min(c.fits, cap) for c in candidates if c.eligible)


def eligible_clusters(n: int, *, fits: int = 20, score: int = 0) -> list[Candidate]:
    return [Candidate(name, True, fits=fits, score=score) for name in ("a", "b", "c", "d", "e")[:n]]


# --- place: properties --------------------------------------------------------------------------------------


@SETTINGS
@given(total=TOTALS, candidates=candidate_lists(), data=st.data())
def test_place_is_infeasible_exactly_when_the_room_is_short(
    total: int, candidates: list[Candidate], data: st.DataObject
) -> None:
    cap = cap_for(total, candidates)
    if room(candidates, cap) < total:
        event("infeasible")
        with pytest.raises(Infeasible) as info:
            place(total, candidates, cap)
        # Every candidate is named, eligible or not, so the user can see why each cluster can't help.
        assert set(info.value.details) == {c.name for c in candidates}
        for c in candidates:
            if not c.eligible:
                assert info.value.details[c.name] == c.reason
        return

    placement = place(total, candidates, cap)
    by_name = {c.name: c for c in candidates}
    assert sum(placement.counts.values()) == total
    for name, count in placement.counts.items():
        assert by_name[name].eligible
        assert 1 <= count <= by_name[name].fits
        assert count <= cap
    assert placement.eligible == sorted(c.name for c in candidates if c.eligible)
    assert placement.excluded == {c.name: c.reason for c in candidates if not c.eligible}

    assert [s.id for s in placement.slots] == list(range(total))
    per_cluster: dict[str, list[int]] = {}
    for slot in placement.slots:
        per_cluster.setdefault(slot.cluster, []).append(slot.ordinal)
    assert {name: sorted(ordinals) for name, ordinals in per_cluster.items()} == {
        name: list(range(count)) for name, count in placement.counts.items()
    }

    assert placement.counts[placement.init_cluster] == max(placement.counts.values())
    assert placement.slots[0].cluster == placement.init_cluster
    assert placement.slots[0].ordinal == 0

    # Deterministic: the same inputs, in any order, give the same placement.
    assert place(total, candidates, cap) == placement
    shuffled = data.draw(st.permutations(candidates), label="shuffled")
    assert place(total, shuffled, cap) == placement


@SETTINGS
@given(
    total=st.integers(1, 24).map(lambda n: 2 * n + 1),  # odd, 3..49
    candidates=candidate_lists(eligibility=st.integers(0, 3).map(bool)),  # mostly eligible: fewer rejected examples
)
def test_no_cluster_holds_a_majority_of_the_voters(total: int, candidates: list[Candidate]) -> None:
    eligible = sum(c.eligible for c in candidates)
    cap = pack_cap(total, eligible)
    assume(eligible >= 3 and room(candidates, cap) >= total)
    placement = place(total, candidates, cap)
    voters = voters_of(placement)
    assert len(voters) == min(total, MAX_VOTERS) <= MAX_VOTERS
    for cluster, count in Counter(s.cluster for s in voters).items():
        assert count * 2 < len(voters), (cluster, placement.counts)
    # ...and none holds a majority of all members either.
    assert all(count * 2 < total for count in placement.counts.values())


@SETTINGS
@given(
    total=st.integers(2, 25).map(lambda n: 2 * n),  # even, 4..50
    candidates=candidate_lists(eligibility=st.integers(0, 3).map(bool)),
)
def test_even_totals_avoid_a_voting_majority_where_the_cap_allows(total: int, candidates: list[Candidate]) -> None:
    """Even totals: the cap is (n - 1) / 2 where the clusters can take it, else n / 2 (only 4 members on 3 clusters).

    With n / 2 a cluster may hold half of the members, but one fewer votes (an odd number), so with three
    clusters used no cluster holds half of the voters; see
    ``test_four_members_on_three_clusters_give_each_cluster_one_vote``.
    """
    eligible = sum(c.eligible for c in candidates)
    cap = pack_cap(total, eligible)
    assume(eligible >= 3 and room(candidates, cap) >= total)
    placement = place(total, candidates, cap)
    voters = voters_of(placement)
    assert len(voters) == min(total - 1, MAX_VOTERS)
    most = max(Counter(s.cluster for s in voters).values())
    if len(placement.counts) >= 3:
        assert most * 2 < len(voters), placement.counts
    else:  # 2-2 (the third cluster fits none): with an odd number of voters one of the two holds a majority
        assert (total, len(placement.counts)) == (4, 2)


@SETTINGS
@given(total=TOTALS, names=st.lists(NAMES, min_size=2, max_size=12, unique=True))
def test_infeasible_names_every_candidate_when_none_is_eligible(total: int, names: list[str]) -> None:
    candidates = [Candidate(n, False, reason=f"{n} has no VIP", fits=5) for n in names]
    with pytest.raises(Infeasible) as info:
        place(total, candidates, cap_for(total, candidates))
    assert info.value.details == {n: f"{n} has no VIP" for n in names}
    assert info.value.message == f"no cluster is eligible for {total} members"


# --- place: worked examples ---------------------------------------------------------------------------------


def test_five_members_on_three_equal_clusters_are_2_2_1() -> None:
    clusters = eligible_clusters(3)
    assert pack_cap(5, 3) == 2  # 3 * ((5 - 1) / 2) = 6 >= 5 -> (5 - 1) / 2 = 2
    placement = place(5, clusters, pack_cap(5, 3))
    assert placement.counts == {"a": 2, "b": 2, "c": 1}
    assert placement.init_cluster == "a"
    # _id round-robin over clusters, init cluster first: the first members are spread too.
    assert placement.slots == [Slot(0, "a", 0), Slot(1, "b", 0), Slot(2, "c", 0), Slot(3, "a", 1), Slot(4, "b", 1)]


def test_three_members_on_three_clusters_are_1_1_1() -> None:
    assert pack_cap(3, 3) == 1  # 3 * ((3 - 1) / 2) = 3 >= 3 -> 1
    placement = place(3, eligible_clusters(3), pack_cap(3, 3))
    assert placement.counts == {"a": 1, "b": 1, "c": 1}
    assert [(s.id, s.cluster, s.ordinal) for s in placement.slots] == [(0, "a", 0), (1, "b", 0), (2, "c", 0)]


def test_ties_are_broken_by_cluster_name() -> None:
    # Listed out of order; equal scores and room, so the smaller name wins every tie.
    clusters = [Candidate(n, True, fits=10, score=3) for n in ("zeta", "alpha", "mid")]
    assert pack_cap(4, 3) == 2  # 3 * ((4 - 1) / 2) = 3 < 4 -> 4 / 2 = 2
    placement = place(4, clusters, 2)
    assert placement.counts == {"alpha": 2, "mid": 1, "zeta": 1}
    assert list(placement.counts) == ["alpha", "mid", "zeta"]
    assert placement.init_cluster == "alpha"
    assert [s.cluster for s in placement.slots] == ["alpha", "mid", "zeta", "alpha"]
    assert placement.eligible == ["alpha", "mid", "zeta"]


def test_higher_score_wins_before_name() -> None:
    clusters = [Candidate("a", True, fits=10, score=1), Candidate("b", True, fits=10, score=7),
                Candidate("c", True, fits=10, score=4)]
    placement = place(4, clusters, pack_cap(4, 3))
    assert placement.counts == {"b": 2, "c": 1, "a": 1}
    assert placement.init_cluster == "b"
    assert [s.cluster for s in placement.slots] == ["b", "c", "a", "b"]


def test_five_members_on_two_clusters_are_3_2() -> None:
    assert pack_cap(5, 2) == 5  # fewer than 3 eligible clusters: no cap beyond the member count
    placement = place(5, eligible_clusters(2), pack_cap(5, 2))
    assert placement.counts == {"a": 3, "b": 2}
    assert placement.init_cluster == "a"
    assert [(s.cluster, s.ordinal) for s in placement.slots] == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2)]


def test_room_limits_spill_over_to_other_clusters() -> None:
    clusters = [Candidate("a", True, fits=1), Candidate("b", True, fits=20), Candidate("c", True, fits=20),
                Candidate("x", False, reason="is not Ready", fits=20)]
    placement = place(5, clusters, pack_cap(5, 3))  # cap 2: a holds 1, b and c hold 2
    assert placement.counts == {"b": 2, "c": 2, "a": 1}
    assert placement.init_cluster == "b"
    assert placement.excluded == {"x": "is not Ready"}


def test_infeasible_reports_what_each_cluster_may_hold() -> None:
    clusters = [Candidate("a", True, fits=1), Candidate("b", True, fits=5), Candidate("c", True, fits=0),
                Candidate("x", False, reason="has no VIP")]
    assert pack_cap(7, 3) == 3  # 3 * 3 = 9 >= 7 -> 3
    with pytest.raises(Infeasible) as info:
        place(7, clusters, 3)  # room 1 + 3 + 0 = 4 < 7
    assert info.value.details == {
        "a": "fits 1, may hold 1",
        "b": "fits 5, may hold 3 (cap 3)",
        "c": "fits 0, may hold 0",
        "x": "has no VIP",
    }
    assert "the 3 eligible clusters can hold 4 with at most 3 per cluster" in info.value.message


def test_four_members_on_three_clusters_give_each_cluster_one_vote() -> None:
    # 3 * ((4 - 1) / 2) = 3 < 4, so the pack's cap is 4 / 2 = 2 and place() gives 2-1-1; 3 of the 4 vote (an
    # odd number), one per cluster (see tests/test_cli.py::test_four_members_on_three_clusters_vote_one_per_cluster).
    assert pack_cap(4, 3) == 2
    placement = place(4, eligible_clusters(3), 2)
    assert placement.counts == {"a": 2, "b": 1, "c": 1}
    assert Counter(s.cluster for s in voters_of(placement)) == {"a": 1, "b": 1, "c": 1}


def test_placement_is_a_value() -> None:
    first = place(3, eligible_clusters(3), 1)
    assert isinstance(first, Placement)
    assert first == place(3, list(reversed(eligible_clusters(3))), 1)


# --- capacity: Karmada's general estimator (pkg/estimator/client/general.go) --------------------------------


def test_estimate_cpu_limited_in_millicores_with_allocating() -> None:
    summary = ResourceSummary(
        allocatable={"cpu": "8", "memory": "32Gi", "pods": "110"},
        allocated={"cpu": "3500m", "memory": "8Gi", "pods": "40"},
        allocating={"cpu": "1250m", "pods": "2"},
    )
    requests = {"cpu": F(1, 2), "memory": F(512 * MI)}
    # pods:   110 - 40 - 2                        = 68
    # cpu:    8000m - 3500m - 1250m = 3250m;  3250 // 500   = 6   (6.5 rounded down)
    # memory: 32Gi - 8Gi = 24Gi = 24576Mi;   24576 // 512   = 48
    # min(68, 6, 48) = 6, limited by cpu
    assert estimate(summary, requests) == Fit(6, "fits 6 (cpu: 3250m free, 500m per member)")


def test_estimate_cpu_counts_millicores_not_whole_cores() -> None:
    # 1.5 cores free and 300m per member: 1500 // 300 = 5 (whole cores would give ceil(1.5) // ceil(0.3) = 2).
    summary = ResourceSummary(allocatable={"cpu": "2", "pods": "10"}, allocating={"cpu": "500m"})
    assert estimate(summary, {"cpu": F(3, 10)}).members == 5


def test_estimate_pods_limited() -> None:
    summary = ResourceSummary(
        allocatable={"cpu": "64", "memory": "256Gi", "pods": "110"},
        allocated={"cpu": "10", "memory": "40Gi", "pods": "100"},
        allocating={"pods": "7"},
    )
    requests = {"cpu": F(1, 2), "memory": F(512 * MI)}
    # pods:   allocatable - allocated - allocating = 110 - 100 - 7 = 3
    # cpu:    64000m - 10000m = 54000m;  54000 // 500 = 108
    # memory: 256Gi - 40Gi = 216Gi = 221184Mi;  221184 // 512 = 432
    # min(3, 108, 432) = 3, limited by pods
    assert estimate(summary, requests) == Fit(3, "fits 3 (pods: 3 free)")


def test_estimate_no_pods_left() -> None:
    # 110 - 100 - 12 = -2 <= 0: Karmada allows no more pods, whatever the other resources say.
    summary = ResourceSummary(allocatable={"cpu": "64", "pods": "110"}, allocated={"pods": "100"},
                              allocating={"pods": "12"})
    assert estimate(summary, {"cpu": F(1)}).members == 0
    # No pods in allocatable counts as 0 pods.
    assert estimate(ResourceSummary(allocatable={"cpu": "64"}), {"cpu": F(1)}).members == 0


def test_estimate_missing_resource_fits_nothing_and_binary_memory() -> None:
    summary = ResourceSummary(
        allocatable={"cpu": "16", "memory": "15Gi", "pods": "110"},
        allocated={"cpu": "2", "memory": "6Gi", "pods": "10"},
        allocating={"memory": "1536Mi"},
    )
    # A requested resource the cluster doesn't report fits nothing (Karmada returns 0 at once).
    assert estimate(summary, {"cpu": F(1), "nvidia.com/gpu": F(1)}) == Fit(
        0, "the cluster reports no allocatable nvidia.com/gpu"
    )
    # A zero request is skipped, reported or not (Karmada: requestedQuantity <= 0 -> continue).
    assert estimate(summary, {"cpu": F(1), "nvidia.com/gpu": F(0)}).members == 14  # (16000 - 2000) // 1000
    # pods:   110 - 10                                           = 100
    # cpu:    16000m - 2000m = 14000m;  14000 // 1000             = 14
    # memory: 15Gi - 6Gi - 1536Mi = 15360Mi - 6144Mi - 1536Mi = 7680Mi = 7.5Gi
    #         7680Mi // 1Gi = 8053063680 // 1073741824           = 7   (7.5 rounded down)
    # min(100, 14, 7) = 7, limited by memory
    assert estimate(summary, {"cpu": F(1), "memory": F(GI)}) == Fit(7, "fits 7 (memory: 7680Mi free, 1Gi per member)")
    # 768Mi per member: 7680 // 768 = 10
    assert estimate(summary, {"cpu": F(1), "memory": F(768 * MI)}).members == 10


def test_estimate_exhausted_resource_and_missing_summary() -> None:
    summary = ResourceSummary(allocatable={"memory": "4Gi", "pods": "10"}, allocated={"memory": "3Gi"},
                              allocating={"memory": "1Gi"})
    assert estimate(summary, {"memory": F(KI)}) == Fit(0, "memory: nothing free (0)")
    assert estimate(None, {"cpu": F(1)}).members == 0


def test_estimate_without_requests_is_the_pod_count() -> None:
    assert estimate(ResourceSummary(allocatable={"pods": "30"}, allocated={"pods": "4"}), {}) == Fit(
        26, "fits 26 (pods: 26 free)"
    )


# --- member_requests ----------------------------------------------------------------------------------------


def test_member_requests_fill_in_limits_and_sum_containers() -> None:
    containers = [
        # requests win over limits; the missing memory request comes from the limit.
        {"requests": {"cpu": "500m"}, "limits": {"cpu": "2", "memory": "1Gi"}},
        # limits only: both become requests.
        {"limits": {"cpu": "100m", "memory": "128Mi"}},
        # requests only.
        {"requests": {"memory": "100Mi", "nvidia.com/gpu": "1"}},
        # nothing at all.
        {},
    ]
    # cpu:    500m + 100m                   = 600m
    # memory: 1Gi + 128Mi + 100Mi           = 1024Mi + 128Mi + 100Mi = 1252Mi
    # gpu:    1
    assert member_requests(containers) == {"cpu": F(3, 5), "memory": F(1252 * MI), "nvidia.com/gpu": F(1)}
    assert list(member_requests(containers)) == ["cpu", "memory", "nvidia.com/gpu"]


def test_member_requests_of_the_pack_defaults() -> None:
    # The pack's default: mongod {cpu: 500m, memory: 512Mi} plus the exporter {cpu: 50m, memory: 100Mi}.
    containers = [{"requests": {"cpu": "500m", "memory": "512Mi"}}, {"requests": {"cpu": "50m", "memory": "100Mi"}}]
    assert member_requests(containers) == {"cpu": F(550, 1000), "memory": F(612 * MI)}
    assert member_requests([]) == {}
