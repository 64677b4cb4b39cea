"""Assign members to clusters. Purely computational: no I/O, no CEL; the rules arrive as data.

Placement is sticky. Members of the previous render stay where they are (same cluster, ``_id`` and ordinal)
while their cluster may keep them; capacity shrinking or a new NoSchedule taint never moves a member.
A change happens only when:

* scale-down: members in clusters that can't keep them go first, then the highest ordinal of the cluster
  in the most loaded group (coarsest level first), so removal restores spread;
* failover: members in clusters that can no longer keep them (NotReady, NoExecute, gone) move, keep their
  ``_id`` and take the next ordinal of their new cluster; each move is reported with its reason;
* scale-up and moves fill slots one at a time by Webster's method (Karmada's ``AllocateWebsterSeats``,
  ``pkg/util/helper/webstermethod.go``, with the members already placed as its initial seats): the cluster
  with the highest ``weight / (2 * members + 1)`` that has room below its capacity and below every group cap
  (weight 1 for all spreads evenly; weight = free capacity divides like Karmada's dynamic weights); a tie
  goes to the cluster holding fewer members (Karmada's rule), then to less loaded coarser groups, the higher
  score, the smaller name. ``minGroups`` makes unused groups go first.

``minGroups`` is refused, as Karmada's scheduler refuses it, when fewer groups than it have clusters that may
hold members (:func:`groups.short_of_groups`), whatever the member count. With enough groups but fewer members
than ``minGroups``, each member goes to a group of its own (Karmada selects ``minGroups`` clusters and leaves the
extra ones without replicas); the pipeline warns about it. A cluster without a value for the level (no region)
counts towards no group.

``maxGroups`` limits the groups (:func:`groups.selections`): the caps are computed from the groups that the
chosen ones leave (fewer than three clusters, or regions, relax the pack's no-majority cap), and every choice
is tried, best first, before a placement is refused. Kept members are never moved to satisfy a cap; the
result says which caps they exceed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from types import MappingProxyType

from fedrender.scheduler.feasible import Budget, Problem, completable, upper_bound
from fedrender.scheduler.groups import (
    CLUSTER,
    MAX_SELECTIONS,
    Selection,
    Spread,
    level_rank,
    selections,
    short_of_groups,
)

__all__ = ["CLUSTER", "Candidate", "CapsFor", "Infeasible", "Move", "Placement", "Slot", "Spread", "place",
           "place_arbiter"]

CapsFor = Callable[[Mapping[str, int]], Mapping[str, int]]
"""Caps per level (the pack's ``groupCaps``) from the number of groups per level that may hold members."""


@dataclass(frozen=True)
class Candidate:
    """A cluster as the scheduler sees it for one instance."""

    name: str
    eligible: bool
    reason: str = ""
    fits: int = 0
    score: int = 0
    weight: int = 1
    keeps: bool | None = None
    groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def can_keep(self) -> bool:
        return self.eligible if self.keeps is None else self.keeps

    def group(self, level: str) -> str:
        return self.name if level == CLUSTER else self.groups.get(level, "")


@dataclass(frozen=True)
class Slot:
    """One member before roles: replica-set ``_id``, cluster and pod ordinal in that cluster."""

    id: int
    cluster: str
    ordinal: int


@dataclass(frozen=True)
class Move:
    id: int
    source: str
    target: str
    reason: str


@dataclass(frozen=True)
class Placement:
    counts: dict[str, int]
    init_cluster: str
    slots: list[Slot]
    excluded: dict[str, str] = field(default_factory=dict)
    eligible: list[str] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    removed: list[Slot] = field(default_factory=list)
    over_cap: dict[str, str] = field(default_factory=dict)
    usable: dict[str, list[str]] = field(default_factory=dict)
    """Groups per level that may hold members: clusters eligible or keeping members, within the groups the
    spread constraints chose (``usable["cluster"]`` lists clusters). The caps were computed from their number."""
    available: dict[str, list[str]] = field(default_factory=dict)
    """The same before the spread constraints' ``maxGroups`` choose among them."""
    caps: dict[str, int] = field(default_factory=dict)
    chosen: dict[str, list[str]] = field(default_factory=dict)
    """The groups chosen at each level that a ``maxGroups`` limits."""


class Infeasible(Exception):
    """No placement satisfies the limits; ``details`` say, per cluster, why it was excluded or what fits;
    ``spread`` is the spread constraint whose ``minGroups`` could not be met, when that is the cause."""

    def __init__(self, message: str, details: dict[str, str], spread: Spread | None = None) -> None:
        self.message = message
        self.details = details
        self.spread = spread
        super().__init__(message + "".join(f"\n  {name}: {why}" for name, why in sorted(details.items())))


@dataclass
class _State:
    """Members per cluster and per group of each capped level (``levels``, coarsest first, cluster last)."""

    by_name: dict[str, Candidate]
    levels: list[str]
    counts: Counter[str] = field(default_factory=Counter)
    groups: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, cluster: str, delta: int = 1) -> None:
        self.counts[cluster] += delta
        for level in self.levels:
            self.groups.setdefault(level, Counter())[self.by_name[cluster].group(level)] += delta

    def copy(self) -> _State:
        return _State(self.by_name, self.levels, Counter(self.counts),
                      {level: Counter(c) for level, c in self.groups.items()})

    def used_groups(self, level: str) -> set[str]:
        """The groups of ``level`` that hold members now (a cluster without a value for ``level`` is in none)."""
        return {self.by_name[n].group(level) for n, count in self.counts.items() if count} - {""}

    def room(self, name: str, caps: Mapping[str, int]) -> bool:
        c = self.by_name[name]
        if self.counts[name] >= c.fits:
            return False
        return all(self.groups.get(level, Counter())[c.group(level)] < cap for level, cap in caps.items())


def place(total: int, candidates: Sequence[Candidate], caps: int | Mapping[str, int] | CapsFor, *,
          previous: Sequence[Slot] = (), previous_init: str = "", spreads: Sequence[Spread] = (),
          reserved: Collection[int] = (), occupied: Mapping[str, int] = MappingProxyType({})) -> Placement:
    """Place ``total`` members; ``caps`` bounds members per group of each level (an int bounds clusters), or is
    a function from the groups per level that may hold members to those bounds (the pack's ``groupCaps``),
    called for each choice of groups the spread constraints allow.

    New members never take an ``_id`` in ``reserved``; ``occupied`` counts other voters (an arbiter) per
    cluster against the caps. Raises Infeasible when no choice of groups lets ``total`` members fit."""
    caps_for = _caps_function(caps)
    by_name = {c.name: c for c in candidates}
    excluded = {c.name: c.reason for c in candidates if not c.eligible}
    levels_all = sorted({CLUSTER, *(level for c in candidates for level in c.groups), *(s.level for s in spreads)},
                        key=level_rank)

    def why_lost(slot: Slot) -> str:
        candidate = by_name.get(slot.cluster)
        return f"{slot.cluster} {candidate.reason}" if candidate else f"{slot.cluster} is gone from the snapshot"

    members = sorted(previous, key=lambda s: s.id)
    kept = [s for s in members if s.cluster in by_name and by_name[s.cluster].can_keep]
    lost = [s for s in members if not (s.cluster in by_name and by_name[s.cluster].can_keep)]
    # Clusters keeping members count as feasible, as Karmada lets the clusters of the previous result pass its
    # NoSchedule filter; taken before a scale-down, which must not decide whether minGroups can be met.
    short = short_of_groups(_pool(candidates, kept), spreads)
    if short is not None:
        raise Infeasible(_too_few_groups(*short), _details(candidates, Counter(s.cluster for s in kept), {}), short[0])
    caps_now = caps_for(_usable(_pool(candidates, kept), levels_all))  # before maxGroups: the strictest
    levels = sorted(caps_now, key=level_rank)
    state = _State(by_name, levels)
    for slot in kept:
        state.add(slot.cluster)
    for name, extra in occupied.items():
        if name in by_name:
            state.add(name, extra)
    removed: list[Slot] = []
    excess = len(members) - total
    while excess > 0 and lost:
        removed.append(lost.pop())
        excess -= 1
    if excess > 0:
        kept, gone = _scale_down(kept, excess, state, caps_now, spreads, total)
        removed += gone
    pool = _pool(candidates, kept)
    chosen = _choose(total, total - len(kept), pool, Counter(s.cluster for s in kept), state, spreads, caps_for,
                     levels_all)
    if chosen.picks is None:
        held = Counter(s.cluster for s in kept)
        details = _details(candidates, held, chosen.caps, chosen.selection)
        if chosen.short_groups is not None:
            spread, used = chosen.short_groups
            available = sorted({c.group(spread.level) for c in pool} - {""})
            limited = _limited_by(chosen)
            raise Infeasible(f"spreadConstraints ({spread.describe()}) need members in {spread.min_groups} "
                             f"{spread.plural()}, but only {used} could be used within the room and caps of the "
                             f"{len(available)} that may hold members ({_some(available)}){limited}; free room in "
                             f"them, {'raise maxGroups, ' if limited else ''}or lower minGroups to {used}", details,
                             spread)
        raise Infeasible(_infeasible_message(total, candidates, chosen, len(kept) + chosen.greedy), details)
    picks, state, cap_map = chosen.picks, chosen.state, chosen.caps
    next_ordinal = dict.fromkeys(by_name, 0)
    for s in kept:
        next_ordinal[s.cluster] = max(next_ordinal[s.cluster], s.ordinal + 1)
    used_ids = {s.id for s in kept} | {s.id for s in lost} | set(reserved)
    free_ids = (i for i in range(10**6) if i not in used_ids)
    slots = list(kept)
    moves = []
    for index, name in enumerate(picks):
        if index < len(lost):
            slot = Slot(lost[index].id, name, next_ordinal[name])
            moves.append(Move(slot.id, lost[index].cluster, name, why_lost(lost[index])))
        else:
            slot = Slot(next(free_ids), name, next_ordinal[name])
        next_ordinal[name] += 1
        slots.append(slot)
    counts = Counter(s.cluster for s in slots)
    order = sorted(counts, key=lambda n: (-counts[n], -by_name[n].score, n))
    # The init cluster only initiates once. When it has to change, it must be a cluster that kept members (it
    # can see the live replica set), never one whose members are all new: that would initiate a second set.
    holding = {s.cluster for s in kept}
    survivors = [n for n in order if n in holding]
    init = previous_init if counts.get(previous_init) else (survivors or order or [""])[0]
    if not members and not reserved:  # a fresh set: _ids round-robin, init cluster first, so voters spread too
        rank = {n: i for i, n in enumerate(order)}
        slots = [Slot(i, s.cluster, s.ordinal)
                 for i, s in enumerate(sorted(slots, key=lambda s: (s.ordinal, rank[s.cluster])))]
    over = {}
    for level in levels:
        for group, count in (state.groups.get(level) or Counter()).items():
            if level in cap_map and count > cap_map[level]:
                over[f"{level}={group}" if level != CLUSTER else group] = f"holds {count}, cap {cap_map[level]}"
    usable = _groups([c for c in pool if c.name in chosen.selection.clusters], levels_all)
    return Placement({n: counts[n] for n in order}, init, sorted(slots, key=lambda s: s.id), excluded,
                     sorted(c.name for c in candidates if c.eligible), moves, sorted(removed, key=lambda s: s.id),
                     over, usable, _groups(pool, levels_all), dict(cap_map),
                     {level: list(groups) for level, groups in chosen.selection.chosen.items()})


def _caps_function(caps: int | Mapping[str, int] | CapsFor) -> CapsFor:
    """``caps`` as a function of the groups per level that may hold members (remembering its answers)."""
    if isinstance(caps, int):
        fixed: Mapping[str, int] = {CLUSTER: caps}
    elif isinstance(caps, Mapping):
        fixed = dict(caps)
    else:
        answers: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
        function = caps

        def remembered(usable: Mapping[str, int]) -> Mapping[str, int]:
            key = tuple(sorted(usable.items()))
            if key not in answers:
                answers[key] = dict(function(usable))
            return answers[key]
        return remembered
    return lambda _usable: fixed


def _pool(candidates: Sequence[Candidate], kept: Sequence[Slot]) -> list[Candidate]:
    """The clusters that may hold members: eligible ones, and those keeping members."""
    holding = {s.cluster for s in kept}
    return [c for c in candidates if c.eligible or (c.can_keep and c.name in holding)]


def _groups(pool: Sequence[Candidate], levels: Sequence[str]) -> dict[str, list[str]]:
    """The groups of each level the clusters of ``pool`` make up."""
    return {level: sorted({c.group(level) for c in pool}) for level in levels}


def _usable(pool: Sequence[Candidate], levels: Sequence[str]) -> dict[str, int]:
    """How many groups of each level the clusters of ``pool`` make up."""
    return {level: len(groups) for level, groups in _groups(pool, levels).items()}


@dataclass
class _Choice:
    """The outcome of :func:`_choose`: the picks (None when nothing fits), the state after them, the caps and
    selection used (the first tried when nothing fits), what the greedy fill placed of the first selection,
    and the unmet spread (with the groups it got) when room was not the problem."""

    picks: list[str] | None
    state: _State
    caps: Mapping[str, int]
    selection: Selection
    greedy: int = 0
    short_groups: tuple[Spread, int] | None = None
    tried: int = 0
    """How many choices of groups were tried (at most groups.MAX_SELECTIONS)."""


def _choose(total: int, need: int, pool: list[Candidate], kept: Counter[str], state: _State,
            spreads: Sequence[Spread], caps_for: CapsFor, levels_all: list[str]) -> _Choice:
    """Fill ``need`` slots under the first choice of groups that lets them fit: choices whose caps forbid a
    majority at more levels first, then those leaving more groups able to hold members, up to the three that
    let a majority be avoided, coarsest level first (two regions survive the loss of one's data; one does not),
    then in the order Karmada ranks the groups."""
    options = []
    for index, selection in enumerate(selections(pool, kept, spreads, total)):
        usable = _usable([c for c in pool if c.name in selection.clusters], levels_all)
        caps = caps_for(usable)
        majorities = sum(1 for cap in caps.values() if cap * 2 > total)
        spread = tuple(-min(usable[level], 3) for level in sorted(usable, key=level_rank))
        options.append(((majorities, spread, index), selection, caps))
    options.sort(key=lambda o: o[0])
    first: _Choice | None = None
    budget = Budget()
    for _, selection, caps in options:
        trial = state.copy()
        allowed = [c.name for c in pool if c.eligible and c.name in selection.clusters]
        picks, greedy, short = _fill(need, trial, allowed, spreads, caps, total, budget)
        if picks is not None:
            return _Choice(picks, trial, caps, selection)
        first = first or _Choice(None, state, caps, selection, greedy, short)
    assert first is not None
    first.tried = len(options)
    return first


def _scale_down(kept: list[Slot], excess: int, state: _State, caps: Mapping[str, int], spreads: Sequence[Spread],
                total: int) -> tuple[list[Slot], list[Slot]]:
    """Remove ``excess`` members: each time the highest ordinal of a cluster whose last member does not leave
    fewer groups than a spread's minGroups, and of those the one whose groups exceed the most ``caps``, then in
    the most loaded group (coarsest level first), then lower score, then larger name. Returns (kept, removed).
    O(excess x clusters x (levels + spreads) + members): each cluster's members are ordered once, removals pop
    from the end."""
    levels = state.levels
    by_name = state.by_name
    stacks: dict[str, list[Slot]] = {}
    for slot in sorted(kept, key=lambda s: (s.ordinal, -s.id)):  # ties: the lowest _id goes first
        stacks.setdefault(slot.cluster, []).append(slot)
    removed: list[Slot] = []
    for _ in range(excess):
        needed = _needed_groups(state, spreads, total)
        name = max((n for n, stack in stacks.items() if stack), key=lambda n: (
            not (len(stacks[n]) == 1 and any(by_name[n].group(level) in groups for level, groups in needed)),
            sum(state.groups[level][by_name[n].group(level)] > caps.get(level, excess + len(kept)) for level in levels),
            *(state.groups[level][by_name[n].group(level)] for level in levels), -by_name[n].score, n))
        removed.append(stacks[name].pop())
        state.add(name, -1)
    gone = {id(s) for s in removed}
    return [s for s in kept if id(s) not in gone], removed


def _needed_groups(state: _State, spreads: Sequence[Spread], total: int) -> list[tuple[str, set[str]]]:
    """Per spread whose minGroups the members meet with nothing to spare: the groups held by one cluster only
    (emptying that cluster would leave too few groups)."""
    out = []
    for spread in spreads:
        holders: Counter[str] = Counter(state.by_name[n].group(spread.level) for n, count in state.counts.items()
                                        if count > 0 and state.by_name[n].group(spread.level))
        if len(holders) <= min(spread.min_groups, total):
            out.append((spread.level, {group for group, clusters in holders.items() if clusters == 1}))
    return out


def place_arbiter(candidates: Sequence[Candidate], placement: Placement,
                  previous: Slot | None, reserved: Collection[int] = ()) -> tuple[Slot, Move | None]:
    """A voting member without data: it stays where it was while that cluster may keep it; otherwise it goes
    to an eligible cluster (among those the spread constraints' maxGroups chose) where it gives no region, zone
    or provider (no level the caps cover) a majority of the members, holding no data members, else the fewest
    (then score, name). A new arbiter never takes an ``_id`` in ``reserved`` (members still leaving)."""
    by_name = {c.name: c for c in candidates}
    used = {s.id for s in placement.slots}
    if previous is not None and previous.cluster in by_name and by_name[previous.cluster].can_keep \
            and previous.id not in used:
        return previous, None
    within = set(placement.usable.get(CLUSTER, ())) if placement.chosen else None  # maxGroups bind it too
    options = [c for c in candidates if c.eligible and c.fits >= 1 + placement.counts.get(c.name, 0)
               and (within is None or c.name in within)]
    if not options:
        raise Infeasible("no eligible cluster has room for the arbiter", _details(candidates, Counter(), {}))
    levels = [level for level in placement.caps if level != CLUSTER]
    voters = sum(placement.counts.values()) + 1
    held: dict[str, Counter[str]] = {level: Counter() for level in levels}
    for name, count in placement.counts.items():
        for level in levels:
            held[level][by_name[name].group(level)] += count

    def majorities(c: Candidate) -> int:
        return sum((held[level][c.group(level)] + 1) * 2 > voters for level in levels if c.group(level))
    choice = min(options, key=lambda c: (majorities(c), placement.counts.get(c.name, 0), -c.score, c.name))
    taken = used | set(reserved)
    new_id = previous.id if previous is not None and previous.id not in taken else \
        next(i for i in range(len(taken) + 1) if i not in taken)
    slot = Slot(new_id, choice.name, 0)
    if previous is None:
        return slot, None
    reason = (f"{previous.cluster} {by_name[previous.cluster].reason}" if previous.cluster in by_name
              else f"{previous.cluster} is gone from the snapshot")
    return slot, Move(slot.id, previous.cluster, choice.name, reason)


def _fill(need: int, state: _State, allowed: list[str], spreads: Sequence[Spread], caps: Mapping[str, int],
          total: int, budget: Budget) -> tuple[list[str] | None, int, tuple[Spread, int] | None]:
    """Clusters for ``need`` more members, in the order they are chosen, or None when they don't fit.

    Slot by slot (see the module docstring); when that falls short, once more, taking at each slot the most
    preferred cluster after which the rest still fits (:func:`feasible.completable`). Returns (picks, how
    many the slot-by-slot fill placed, the spread whose minGroups was not met and the groups it got)."""
    picks = _greedy(need, state, allowed, spreads, caps)
    short = _unmet(state, spreads, total)
    if len(picks) == need and short is None:
        return picks, len(picks), None
    placed = len(picks)
    for name in picks:
        state.add(name, -1)
    problem = _problem(state, allowed, spreads, caps, total)
    if upper_bound(problem.room, problem.groups, problem.residual, list(caps)) < need \
            or not completable(problem, need, budget):
        return None, placed, short if placed == need else None
    guided: list[str] = []
    for step in range(need):
        in_use = [state.used_groups(spread.level) for spread in spreads]
        options = sorted((n for n in allowed if state.room(n, caps)),
                         key=partial(_pick_key, state=state, spreads=spreads, used=in_use))
        for name in options:
            state.add(name)
            if completable(_problem(state, allowed, spreads, caps, total), need - step - 1, budget):
                guided.append(name)
                break
            state.add(name, -1)
        else:  # the search said the rest fits: unreachable unless its budget ran out midway
            return None, placed, None
    return guided, placed, None


def _greedy(need: int, state: _State, allowed: list[str], spreads: Sequence[Spread],
            caps: Mapping[str, int]) -> list[str]:
    """Up to ``need`` clusters, one slot at a time, each the best by :func:`_pick_key` that has room."""
    picks: list[str] = []
    for _ in range(need):
        options = [n for n in allowed if state.room(n, caps)]
        if not options:
            break
        in_use = [state.used_groups(spread.level) for spread in spreads]  # once per pick, not per option
        choice = min(options, key=partial(_pick_key, state=state, spreads=spreads, used=in_use))
        picks.append(choice)
        state.add(choice)
    return picks


def _unmet(state: _State, spreads: Sequence[Spread], total: int) -> tuple[Spread, int] | None:
    """The first spread whose minGroups the members don't meet (with the groups they use), or None."""
    for spread in spreads:
        used = len(state.used_groups(spread.level))
        if used < min(spread.min_groups, total):
            return spread, used
    return None


def _problem(state: _State, allowed: list[str], spreads: Sequence[Spread], caps: Mapping[str, int],
             total: int) -> Problem:
    """What :func:`feasible.completable` needs to know of ``state``."""
    by_name = state.by_name
    room = {n: max(0, by_name[n].fits - state.counts[n]) for n in allowed}
    groups = {n: {level: by_name[n].group(level) for level in caps} for n in allowed}
    residual = {(level, group): max(0, caps[level] - state.groups.get(level, Counter())[group])
                for n in allowed for level, group in groups[n].items()}
    minimums: dict[str, tuple[int, frozenset[str]]] = {}
    for spread in spreads:
        wanted = max(min(spread.min_groups, total), minimums.get(spread.level, (0, frozenset()))[0])
        minimums[spread.level] = (wanted, frozenset(state.used_groups(spread.level)))
    spread_groups = {n: {level: by_name[n].group(level) for level in minimums if by_name[n].group(level)}
                     for n in allowed}
    return Problem(room, groups, residual, minimums, spread_groups)


def _pick_key(n: str, *, state: _State, spreads: Sequence[Spread], used: list[set[str]]) -> tuple[object, ...]:
    """Order for the next pick: unmet minGroups first, then Webster's priority, then (Karmada's tie rule) the
    cluster holding fewer members, then less loaded coarser groups, higher score, smaller name."""
    c = state.by_name[n]
    unmet = [len(u) < spread.min_groups and c.group(spread.level) not in u | {""}
             for spread, u in zip(spreads, used, strict=True)]
    priority = Fraction(max(c.weight, 0), 2 * state.counts[n] + 1)
    coarse = tuple(state.groups.get(level, Counter())[c.group(level)] for level in state.levels if level != CLUSTER)
    return (*[not u for u in unmet], -priority, state.counts[n], *coarse, -c.score, n)


def _too_few_groups(spread: Spread, groups: list[str]) -> str:
    """Why fewer groups than ``minGroups`` may hold members is refused, and the fix."""
    missing = spread.min_groups - len(groups)
    if spread.level == CLUSTER:
        have = f"only {len(groups)} clusters may hold members"
        more = f"make {missing} more cluster{'s' if missing > 1 else ''} eligible"
    else:
        have = f"only {len(groups)} have clusters that may hold members"
        more = f"make clusters in {missing} more {spread.plural(missing)} eligible"
    lower = f"lower minGroups to {len(groups)}" if groups else "remove the constraint"
    return (f"spreadConstraints ({spread.describe()}) need {spread.min_groups} {spread.plural()}, but {have} "
            f"({', '.join(groups) or 'none'}); Karmada's scheduler refuses fewer groups than minGroups too, whatever "
            f"the member count; {lower} or {more} (below: why each cluster is excluded, or what it fits)")


def _some(names: Sequence[str], shown: int = 8) -> str:
    """``a, b, c`` or, for a long list, its first ``shown`` and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _limited_by(chosen: _Choice) -> str:
    """How the choice of groups under maxGroups limited a placement that failed, for its message ("" without)."""
    if not chosen.selection.chosen:
        return ""
    groups = "; ".join(f"{level} {_some(groups)}" for level, groups in sorted(chosen.selection.chosen.items()))
    most = ", the most fedrender tries" if chosen.tried >= MAX_SELECTIONS else ""
    return (f" and within the groups spreadConstraints' maxGroups let members use (best first: {groups}; "
            f"{chosen.tried} choices of groups tried{most}, none fits)")


def _infeasible_message(total: int, candidates: Sequence[Candidate], chosen: _Choice, held: int) -> str:
    eligible = [c for c in candidates if c.eligible]
    if not eligible and not held:
        return f"no cluster is eligible for {total} members"
    limits = " and ".join(f"at most {cap} per {level}" for level, cap in sorted(chosen.caps.items()))
    text = f"{total} members don't fit: the {len(eligible)} eligible clusters can hold {held} with {limits}"
    if chosen.selection.chosen:
        groups = "; ".join(f"{level} {_some(groups)}" for level, groups in sorted(chosen.selection.chosen.items()))
        others = ("none of the other choices fits either" if chosen.tried < MAX_SELECTIONS else
                  f"none of the {chosen.tried - 1} next best choices fits either, and fedrender tries no more")
        text += f" (spreadConstraints maxGroups let members use only some groups, best first: {groups}; {others})"
    return text


def _details(candidates: Sequence[Candidate], held: Counter[str], caps: Mapping[str, int],
             selection: Selection | None = None) -> dict[str, str]:
    details = {}
    for c in candidates:
        if not c.eligible:
            details[c.name] = c.reason
            continue
        cap = caps.get(CLUSTER, c.fits)
        text = f"fits {c.fits}, may hold {min(c.fits, cap)}" + (f" (cap {cap})" if cap < c.fits else "")
        if selection is not None and selection.chosen and c.name not in selection.clusters:
            text += ", outside the groups chosen first"
        details[c.name] = text + (f", keeps {held[c.name]}" if held[c.name] else "")
    return details
