"""Which members vote. Purely computational: no I/O, no CEL; a pack reads the answer as ``member.voter``.

MongoDB's rules give the number of voters (MongoDB manual, "Replica Set Members": "up to 50 members but only
7 voting members"; "Replica Set Deployment Architectures": an odd number of voting members; an arbiter always
votes, ``src/mongo/db/repl/member_config.cpp``): the largest odd number that is at most 7 and at most the
members, the arbiter counted. Which members vote is chosen, in this order of importance:

1. no cluster holds a majority of the votes, when some choice avoids it;
2. then no region holds one, when some choice that keeps (1) avoids it (a cluster without a region is a
   region of its own: nothing says it shares one);
3. then as few members of the previous render as possible change their vote (members new in this render
   have no vote to change);
4. then the votes are as even as possible: the sum of squares of the votes per cluster, then per region,
   is smallest;
5. then the init member (ordinal 0 of the init cluster: the pack gives it the highest priority) before the
   others, then the lower ``_id`` (a new set's ``_id``s go round-robin over its clusters, so its voters are
   its first ``_id``s, as before fedrender chose them), then the cluster name. Inside a cluster the members
   that voted keep their vote before new members get one, and new members before members that did not
   vote; lower ordinals first (scale-down removes the highest ordinals).

(1) and (2) are upper bounds per cluster and per region, a laminar family; (3) and (4) are separable convex
costs per cluster plus convex costs per region. Adding one voter at a time where the cost grows least,
within the bounds, therefore finds the optimum (greedy optimality for M-natural-convex functions, Murota,
"Discrete Convex Analysis", 2003, ch. 6); ``tests/test_voters.py`` checks it against brute force.

A member without a vote must have priority 0 (manual, "Configure a Non-Voting Self-Managed Replica Set
Member"; mongod refuses it: "priority must be 0 when non-voting (votes:0)"): packs give non-voters priority 0.
The reconciler applies the result one voting change per reconfig (``reconciler.decide``), as
``replSetReconfig`` requires (manual, ``rs.reconfig()``: "Reconfiguration Can Add or Remove No More than One
Voting Member at a Time").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_VOTERS = 7
"""MongoDB's limit on voting members (manual, "Replica Set Members")."""


@dataclass(frozen=True)
class Seat:
    """A member as the choice of voters sees it: ``_id``, cluster, the cluster's region ("" when it names
    none), pod ordinal, and whether it is an arbiter (an arbiter always votes)."""

    id: int
    cluster: str
    region: str = ""
    ordinal: int = 0
    arbiter_only: bool = False


@dataclass(frozen=True)
class VoteChange:
    """A member of the previous render whose vote changes: votes before and after (0 or 1), and why."""

    id: int
    before: int
    after: int
    reason: str


@dataclass(frozen=True)
class Voting:
    """The chosen voters (``_id``s), their number, and the vote changes against the previous render."""

    voters: frozenset[int]
    count: int
    changes: tuple[VoteChange, ...] = ()


def voter_count(members: int) -> int:
    """The largest odd number of voters that is at most :data:`MAX_VOTERS` and at most ``members`` (0 for none)."""
    count = min(members, MAX_VOTERS)
    return count - 1 if count % 2 == 0 and count > 0 else count


def _region_key(seat: Seat) -> str:
    return f"region {seat.region}" if seat.region else f"cluster {seat.cluster}"


@dataclass(frozen=True)
class _Cluster:
    """One cluster's members, sorted by how cheaply each takes a vote, and the cost of giving it ``k`` votes."""

    name: str
    region: str
    seats: tuple[Seat, ...]
    voted: int  # members of the previous render that voted
    new: int  # members new in this render

    def changes(self, k: int) -> int:
        return max(0, self.voted - k) + max(0, k - self.voted - self.new)


def _clusters(data: Sequence[Seat], previous: Mapping[int, bool]) -> dict[str, _Cluster]:
    by_cluster: dict[str, list[Seat]] = {}
    for seat in data:
        by_cluster.setdefault(seat.cluster, []).append(seat)
    out = {}
    for name, seats in by_cluster.items():
        def rank(s: Seat) -> tuple[int, int, int]:
            return (0 if previous.get(s.id) else 1 if s.id not in previous else 2, s.ordinal, s.id)
        ordered = tuple(sorted(seats, key=rank))
        out[name] = _Cluster(name, _region_key(seats[0]), ordered, sum(bool(previous.get(s.id)) for s in seats),
                             sum(s.id not in previous for s in seats))
    return out


@dataclass(frozen=True)
class _Bounds:
    """Votes each cluster and each region may take, and whether each bound keeps a majority out."""

    clusters: dict[str, int]
    regions: dict[str, int]
    cluster_majority_avoided: bool
    region_majority_avoided: bool


def _bounds(clusters: Mapping[str, _Cluster], arbiters: Counter[str], region_arbiters: Counter[str], wanted: int,
            half: int) -> _Bounds:
    """No cluster majority where some choice avoids it; then no region majority where that can be avoided too."""
    cluster_caps = {n: max(0, min(len(c.seats), half - arbiters[n])) for n, c in clusters.items()}
    cluster_avoided = sum(cluster_caps.values()) >= wanted
    if not cluster_avoided:
        cluster_caps = {n: len(c.seats) for n, c in clusters.items()}
    regions = {c.region for c in clusters.values()}
    region_caps = {r: max(0, half - region_arbiters[r]) for r in regions}
    room = sum(min(region_caps[r], sum(cluster_caps[n] for n, c in clusters.items() if c.region == r))
               for r in regions)
    region_avoided = room >= wanted
    if not region_avoided:
        region_caps = {r: sum(len(c.seats) for c in clusters.values()) for r in regions}
    return _Bounds(cluster_caps, region_caps, cluster_avoided, region_avoided)


def choose_voters(members: Sequence[Seat], previous: Mapping[int, bool], init_cluster: str = "") -> Voting:
    """The voters among ``members``; ``previous`` maps each ``_id`` of the previous render to whether it voted
    (members absent from it are new). Deterministic: the order of ``members`` does not matter."""
    arbiters = [s for s in members if s.arbiter_only]
    data = [s for s in members if not s.arbiter_only]
    count = voter_count(len(members))
    wanted = max(0, count - len(arbiters))
    clusters = _clusters(data, previous)
    cluster_arbiters = Counter(s.cluster for s in arbiters)
    region_arbiters = Counter(_region_key(s) for s in arbiters)
    bounds = _bounds(clusters, cluster_arbiters, region_arbiters, wanted, count // 2)
    given: Counter[str] = Counter()
    region_given: Counter[str] = Counter()

    def cost(name: str) -> tuple[int, int, int, int, str]:
        c, k = clusters[name], given[name]
        seat = c.seats[k]  # the member that would take the vote
        first = -1 if (seat.cluster, seat.ordinal) == (init_cluster, 0) else seat.id
        return (c.changes(k + 1) - c.changes(k), k + cluster_arbiters[name],
                region_given[c.region] + region_arbiters[c.region], first, name)

    for _ in range(wanted):
        options = [n for n, c in clusters.items()
                   if given[n] < bounds.clusters[n] and region_given[c.region] < bounds.regions[c.region]]
        choice = min(options, key=cost)
        given[choice] += 1
        region_given[clusters[choice].region] += 1
    voters = frozenset(s.id for s in arbiters) | frozenset(
        s.id for name, c in clusters.items() for s in c.seats[:given[name]])
    return Voting(voters, len(voters), _changes(members, previous, voters, clusters, count, bounds))


def _changes(members: Sequence[Seat], previous: Mapping[int, bool], voters: frozenset[int],
             clusters: Mapping[str, _Cluster], count: int, bounds: _Bounds) -> tuple[VoteChange, ...]:
    """Each vote that changes against the previous render, with the facts that made it change."""
    arbiters = [s for s in members if s.arbiter_only]
    kept_arbiters = sum(s.id in previous for s in arbiters)  # an arbiter always votes
    kept = sum(c.voted for c in clusters.values()) + kept_arbiters  # voters that remain
    new = sum(c.new for c in clusters.values()) + len(arbiters) - kept_arbiters
    held = Counter({n: c.voted for n, c in clusters.items()}) + Counter(s.cluster for s in arbiters)
    region_held = Counter(_region_key(s) for s in arbiters)
    for c in clusters.values():
        region_held[c.region] += c.voted
    over = {f"cluster {n}": f"cluster {n} would hold {v} of the {count} votes, a majority"
            for n, v in sorted(held.items()) if bounds.cluster_majority_avoided and v > count // 2}
    over.update({r: f"{r} would hold {v} of the {count} votes, a majority" for r, v in sorted(region_held.items())
                 if bounds.region_majority_avoided and v > count // 2 and r.startswith("region ")})
    here = {s.id for s in members}
    gone = sorted(i for i, voted in previous.items() if voted and i not in here)
    left = f" ({'members' if len(gone) > 1 else 'member'} {', '.join(map(str, gone))} left)" if gone else ""
    per_cluster = Counter(s.cluster for s in members if s.id in voters)
    context = (f"now {count} of the {len(members)} members vote (the most that is odd and at most {MAX_VOTERS}), "
               f"per cluster {', '.join(f'{n}={per_cluster[n]}' for n in sorted(per_cluster))}")
    out = []
    for seat in sorted(members, key=lambda s: s.id):
        if seat.id not in previous or bool(previous[seat.id]) == (seat.id in voters):
            continue
        facts = []
        if seat.arbiter_only:
            facts.append("an arbiter always votes")
        elif seat.id in voters:
            if kept + new < count:
                facts.append(f"only {kept} members that voted remain{left}{f' and {new} are new' if new else ''}, "
                             f"fewer than the {count} that vote")
            facts += [f"{text}: the vote moves away" for text in over.values()]
            if not facts:
                facts.append("the members that could take the vote instead are in clusters or regions that "
                             "already hold their share")
        else:
            if kept > count:
                facts.append(f"{kept} members that voted remain{left}, more than the {count} that vote")
            region = clusters[seat.cluster].region
            mine = over.get(f"cluster {seat.cluster}") or over.get(region)
            facts += [mine] if mine else []
            if not facts:
                facts.append("its vote goes where it spreads the votes further")
        out.append(VoteChange(seat.id, int(bool(previous[seat.id])), int(seat.id in voters),
                              f"{'; '.join(facts)}; {context}"))
    return tuple(out)
