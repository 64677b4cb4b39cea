"""Which members vote. Purely computational: no I/O, no CEL; a pack reads the answer as ``member.voter``.

MongoDB's rules give the number of voters (MongoDB manual, "Replica Set Members": "up to 50 members but only
7 voting members"; "Replica Set Deployment Architectures": an odd number of voting members; an arbiter always
votes, ``src/mongo/db/repl/member_config.cpp``): the largest odd number that is at most 7 and at most the
members, the arbiter counted. Which members vote is chosen, in this order of importance:

1. no cluster holds a majority of the votes, when some choice avoids it;
2. then no region, then no zone, then no provider holds one, each when some choice that keeps the levels
   before it avoids it (the levels are those the pack's ``groupCaps`` cap, cluster always: a replica set
   with a majority of its votes in one failure domain has no primary when that domain fails, MongoDB
   manual, "Replica Set Elections"). A cluster that names no region (zone, provider) is a group of its own
   at that level: nothing says it shares one;
3. then as few members of the previous render as possible change their vote (members new in this render
   have no vote to change);
4. then the votes are as even as possible: the sum of squares of the votes per cluster, then per region,
   zone and provider, is smallest;
5. then the init member (ordinal 0 of the init cluster: the pack gives it the highest priority) before the
   others, then the lower ``_id`` (a new set's ``_id``s go round-robin over its clusters, so its voters are
   its first ``_id``s, as before fedrender chose them): of two choices, the one whose voters, sorted this
   way, come first. Inside a cluster the members that voted keep their vote before new members get one, and
   new members before members that did not vote; lower ordinals first (scale-down removes the highest
   ordinals).

Inside a cluster (5) fixes who votes, so a choice is the number of votes per cluster: a composition of the
data members' votes over the clusters, each at most the cluster's data members. Regions nest in providers
nowhere (one provider spans regions, one region holds clusters of several providers), so the bounds of (1)
and (2) are not a laminar family and adding one voter at a time is not exact; :func:`choose_voters` tries
every composition (at most 7 votes: 792 over 6 clusters, 11,440 over 10), depth first from the greedy choice
below, and keeps the one of least cost, in the order above. Beyond :data:`MAX_COMPOSITIONS` compositions
(more than about 20 clusters holding members) it falls
back to adding one voter at a time where the cost grows least, within the cluster and region bounds, which is
exact for clusters and regions alone (greedy optimality for M-natural-convex functions over a laminar family,
Murota, "Discrete Convex Analysis", 2003, ch. 6) but may leave a zone or provider majority that another
choice avoids. ``tests/test_voters.py`` checks both against brute force.

A member without a vote must have priority 0 (manual, "Configure a Non-Voting Self-Managed Replica Set
Member"; mongod refuses it: "priority must be 0 when non-voting (votes:0)"): packs give non-voters priority 0.
The reconciler applies the result one voting change per reconfig (``reconciler.decide``), as
``replSetReconfig`` requires (manual, ``rs.reconfig()``: "Reconfiguration Can Add or Remove No More than One
Voting Member at a Time").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

MAX_VOTERS = 7
"""MongoDB's limit on voting members (manual, "Replica Set Members")."""
LEVELS = ("cluster", "region", "zone", "provider")
"""The levels at which a voting majority is avoided, most important first (the ``groupBy`` of ``groupCaps``)."""
MAX_COMPOSITIONS = 100_000
"""How many compositions of the votes over the clusters :func:`choose_voters` searches at most before it falls
back to the greedy choice. 7 votes over 20 clusters of one member each make 77,520; when nearly all of them
tie, searching them took 1.1 s on a 2-core machine (most cases prune to far fewer)."""


@dataclass(frozen=True)
class Seat:
    """A member as the choice of voters sees it: ``_id``, cluster, the cluster's region ("" when it names
    none), pod ordinal, whether it is an arbiter (an arbiter always votes), and the cluster's zone and
    provider ("" when it names none)."""

    id: int
    cluster: str
    region: str = ""
    ordinal: int = 0
    arbiter_only: bool = False
    zone: str = ""
    provider: str = ""

    def group(self, level: str) -> str:
        """The seat's group of ``level`` (one of :data:`LEVELS`) as ``"<level> <name>"``; a cluster that names
        no group of the level is one of its own, ``"cluster <name>"``."""
        name = {"cluster": self.cluster, "region": self.region, "zone": self.zone, "provider": self.provider}[level]
        return f"{level} {name}" if name else f"cluster {self.cluster}"


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


@dataclass(frozen=True)
class _Cluster:
    """One cluster's members, sorted by how cheaply each takes a vote, its group at each level, and the cost of
    giving it ``k`` votes."""

    name: str
    groups: tuple[str, ...]  # per level of the choice
    seats: tuple[Seat, ...]
    voted: int  # members of the previous render that voted
    new: int  # members new in this render

    def changes(self, k: int) -> int:
        return max(0, self.voted - k) + max(0, k - self.voted - self.new)


def _clusters(data: Sequence[Seat], previous: Mapping[int, bool], levels: Sequence[str]) -> list[_Cluster]:
    by_cluster: dict[str, list[Seat]] = {}
    for seat in data:
        by_cluster.setdefault(seat.cluster, []).append(seat)
    out = []
    for name, seats in sorted(by_cluster.items()):
        def rank(s: Seat) -> tuple[int, int, int]:
            return (0 if previous.get(s.id) else 1 if s.id not in previous else 2, s.ordinal, s.id)
        first = min(seats, key=lambda s: s.id)  # the cluster's groups, whichever member names them first
        out.append(_Cluster(name, tuple(first.group(level) for level in levels), tuple(sorted(seats, key=rank)),
                            sum(bool(previous.get(s.id)) for s in seats), sum(s.id not in previous for s in seats)))
    return out


def _count(bounds: Sequence[int], total: int) -> int:
    """How many ways ``total`` splits into ``len(bounds)`` parts, part ``i`` in ``0..bounds[i]``."""
    ways = [1] + [0] * total
    for bound in bounds:
        ways = [sum(ways[j - k] for k in range(min(bound, j) + 1)) for j in range(total + 1)]
    return ways[total]


def _cost(clusters: Sequence[_Cluster], given: Sequence[int], base: Sequence[Counter[str]],
          half: int) -> tuple[int, ...]:
    """(majority at each level, votes changed, sum of squares at each level) of giving ``given`` votes."""
    tallies = [Counter(b) for b in base]
    changed = 0
    for c, k in zip(clusters, given, strict=True):
        changed += c.changes(k)
        for tally, group in zip(tallies, c.groups, strict=True):
            tally[group] += k
    return (*(int(max(t.values(), default=0) > half) for t in tallies), changed,
            *(sum(v * v for v in t.values()) for t in tallies))


def _order(clusters: Sequence[_Cluster], given: Sequence[int], init_cluster: str) -> tuple[tuple[int, str], ...]:
    """The voters sorted by rule 5: the init member first, then by ``_id``."""
    return tuple(sorted((-1 if (s.cluster, s.ordinal) == (init_cluster, 0) else s.id, s.cluster)
                        for c, k in zip(clusters, given, strict=True) for s in c.seats[:k]))


def _exact(clusters: Sequence[_Cluster], base: Sequence[Counter[str]], wanted: int, half: int,
           init_cluster: str, start: tuple[int, ...]) -> tuple[int, ...]:
    """The votes per cluster of least cost (rules 1-4, then 5) over every composition, found depth first from
    the cost of ``start`` (a good choice, the greedy one). Every part of the cost only grows as clusters take
    votes, so a partial choice whose cost already exceeds the best one is not completed."""
    tallies = [Counter(b) for b in base]
    over = [sum(v > half for v in t.values()) for t in tallies]
    squares = [sum(v * v for v in t.values()) for t in tallies]
    room = [sum(len(c.seats) for c in clusters[i:]) for i in range(len(clusters) + 1)]
    best, chosen, best_order = _cost(clusters, start, base, half), start, _order(clusters, start, init_cluster)
    given: list[int] = []

    def walk(at: int, left: int, changed: int) -> None:
        nonlocal best, chosen, best_order
        cost = (*(int(n > 0) for n in over), changed, *squares)
        if cost > best:
            return
        if at == len(clusters):
            order = _order(clusters, given, init_cluster)
            if cost < best or order < best_order:
                best, chosen, best_order = cost, tuple(given), order
            return
        c = clusters[at]
        for k in range(max(0, left - room[at + 1]), min(len(c.seats), left) + 1):
            for i, group in enumerate(c.groups):
                was = tallies[i][group]
                tallies[i][group] = was + k
                over[i] += (was + k > half) - (was > half)
                squares[i] += 2 * was * k + k * k
            given.append(k)
            walk(at + 1, left - k, changed + c.changes(k))
            given.pop()
            for i, group in enumerate(c.groups):
                now = tallies[i][group]
                tallies[i][group] = now - k
                over[i] += (now - k > half) - (now > half)
                squares[i] -= 2 * (now - k) * k + k * k

    walk(0, wanted, 0)
    return chosen


def _greedy(clusters: Sequence[_Cluster], base: Sequence[Counter[str]], levels: Sequence[str], wanted: int,
            half: int, init_cluster: str) -> tuple[int, ...]:
    """One voter at a time where the cost grows least, within the cluster bounds, then the region bounds, that
    keep a majority out where some choice avoids it (exact for clusters and regions; zones and providers only
    break ties)."""
    caps = [min(len(c.seats), max(0, half - base[0][c.groups[0]])) for c in clusters]
    if sum(caps) < wanted:
        caps = [len(c.seats) for c in clusters]
    at = levels.index("region") if "region" in levels else -1
    region_caps: dict[str, int] = {}
    if at > 0:
        region_caps = {c.groups[at]: max(0, half - base[at][c.groups[at]]) for c in clusters}
        room = sum(min(cap, sum(k for k, c in zip(caps, clusters, strict=True) if c.groups[at] == group))
                   for group, cap in region_caps.items())
        region_caps = region_caps if room >= wanted else {}
    given = [0] * len(clusters)
    tallies = [Counter(b) for b in base]

    def cost(j: int) -> tuple[int | str, ...]:
        c, k = clusters[j], given[j]
        seat = c.seats[k]  # the member that would take the vote
        first = -1 if (seat.cluster, seat.ordinal) == (init_cluster, 0) else seat.id
        return (c.changes(k + 1) - c.changes(k), *(t[g] for t, g in zip(tallies, c.groups, strict=True)), first,
                c.name)

    for _ in range(wanted):
        options = [j for j, c in enumerate(clusters) if given[j] < caps[j] and (
            not region_caps or tallies[at][c.groups[at]] - base[at][c.groups[at]] < region_caps[c.groups[at]])]
        choice = min(options, key=cost)
        given[choice] += 1
        for tally, group in zip(tallies, clusters[choice].groups, strict=True):
            tally[group] += 1
    return tuple(given)


def choose_voters(members: Sequence[Seat], previous: Mapping[int, bool], init_cluster: str = "",
                  levels: Collection[str] = LEVELS, budget: int = MAX_COMPOSITIONS) -> Voting:
    """The voters among ``members``; ``previous`` maps each ``_id`` of the previous render to whether it voted
    (members absent from it are new). ``levels`` are those of :data:`LEVELS` at which a majority is avoided
    (the pack's capped levels; cluster always), taken in the order of :data:`LEVELS`; beyond ``budget``
    compositions the greedy choice is taken (see the module docstring). Deterministic: the order of
    ``members`` does not matter. Raises ValueError for a level not in :data:`LEVELS`."""
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown:
        raise ValueError(f"unknown voting levels {', '.join(unknown)} (known: {', '.join(LEVELS)})")
    chosen = tuple(level for level in LEVELS if level == LEVELS[0] or level in levels)
    arbiters = [s for s in members if s.arbiter_only]
    data = [s for s in members if not s.arbiter_only]
    count = voter_count(len(members))
    wanted = max(0, count - len(arbiters))
    clusters = _clusters(data, previous, chosen)
    base = [Counter(s.group(level) for s in arbiters) for level in chosen]
    given = _greedy(clusters, base, chosen, wanted, count // 2, init_cluster)
    if _count([len(c.seats) for c in clusters], wanted) <= budget:
        given = _exact(clusters, base, wanted, count // 2, init_cluster, given)
    voters = frozenset(s.id for s in arbiters) | frozenset(
        s.id for c, k in zip(clusters, given, strict=True) for s in c.seats[:k])
    majorities = _cost(clusters, given, base, count // 2)[:len(chosen)]
    avoided = [level for level, held in zip(chosen, majorities, strict=True) if not held]
    return Voting(voters, len(voters), _changes(members, previous, voters, clusters, count, chosen, avoided))


def _changes(members: Sequence[Seat], previous: Mapping[int, bool], voters: frozenset[int],
             clusters: Sequence[_Cluster], count: int, levels: Sequence[str],
             avoided: Collection[str]) -> tuple[VoteChange, ...]:
    """Each vote that changes against the previous render, with the facts that made it change: among them each
    group of a level whose majority the choice avoids that the members that voted would hold."""
    arbiters = [s for s in members if s.arbiter_only]
    kept_arbiters = sum(s.id in previous for s in arbiters)  # an arbiter always votes
    kept = sum(c.voted for c in clusters) + kept_arbiters  # voters that remain
    new = sum(c.new for c in clusters) + len(arbiters) - kept_arbiters
    over: dict[str, str] = {}
    for at, level in enumerate(levels):
        held = Counter(s.group(level) for s in arbiters)
        for c in clusters:
            held[c.groups[at]] += c.voted
        over.update({g: f"{g} would hold {v} of the {count} votes, a majority" for g, v in sorted(held.items())
                     if level in avoided and v > count // 2 and g.startswith(f"{level} ")})
    here = {s.id for s in members}
    gone = sorted(i for i, voted in previous.items() if voted and i not in here)
    plural = len(gone) > 1
    left = (f" ({'members' if plural else 'member'} {', '.join(map(str, gone))} {'leave' if plural else 'leaves'})"
            if gone else "")
    per_cluster = Counter(s.cluster for s in members if s.id in voters)
    context = (f"now {count} of the {len(members)} members vote (the most that is odd and at most {MAX_VOTERS}), "
               f"per cluster {', '.join(f'{n}={per_cluster[n]}' for n in sorted(per_cluster))}")
    by_name = {c.name: c for c in clusters}
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
                facts.append("the members that could take the vote instead are in clusters, regions, zones or "
                             "providers that already hold their share")
        else:
            if kept > count:
                facts.append(f"{kept} members that voted remain{left}, more than the {count} that vote")
            facts += [over[g] for g in by_name[seat.cluster].groups if g in over]
            if not facts:
                facts.append("its vote goes where it spreads the votes further")
        out.append(VoteChange(seat.id, int(bool(previous[seat.id])), int(seat.id in voters),
                              f"{'; '.join(facts)}; {context}"))
    return tuple(out)
