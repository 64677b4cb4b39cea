"""Assign members to clusters. Purely computational: no I/O, no CEL; the rules arrive as data.

Placement is sticky. Members of the previous render stay where they are (same cluster, ``_id`` and ordinal)
while their cluster may keep them; capacity shrinking or a new NoSchedule taint never moves a member.
A change happens only when:

* scale-down: members in clusters that can't keep them go first, then the highest ordinal of the cluster
  in the most loaded group (coarsest level first), so removal restores spread;
* failover: members in clusters that can no longer keep them (NotReady, NoExecute, gone) move, keep their
  ``_id`` and take the next ordinal of their new cluster; each move is reported with its reason;
* scale-up and moves fill slots one at a time by Webster's method: the cluster with the highest
  ``weight / (2 * members + 1)`` that has room below its capacity and below every group cap (weight 1
  for all spreads evenly; weight = free capacity divides like Karmada's dynamic weights), then the higher
  score, then the smaller name. ``minGroups`` makes unused groups go first; ``maxGroups`` limits the groups.

Kept members are never moved to satisfy a cap; the result says which caps they exceed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from types import MappingProxyType

CLUSTER = "cluster"


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
class Spread:
    """Use at least ``min_groups`` and at most ``max_groups`` groups of ``level`` (FedState/Karmada semantics)."""

    level: str
    min_groups: int = 1
    max_groups: int | None = None


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


class Infeasible(Exception):
    """No placement satisfies the limits; ``details`` say, per cluster, why it was excluded or what fits."""

    def __init__(self, message: str, details: dict[str, str]) -> None:
        self.message = message
        self.details = details
        super().__init__(message + "".join(f"\n  {name}: {why}" for name, why in sorted(details.items())))


@dataclass
class _State:
    by_name: dict[str, Candidate]
    caps: dict[str, int]
    counts: Counter[str] = field(default_factory=Counter)
    groups: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, cluster: str, delta: int = 1) -> None:
        self.counts[cluster] += delta
        for level in self.caps:
            self.groups.setdefault(level, Counter())[self.by_name[cluster].group(level)] += delta

    def used_groups(self, level: str) -> set[str]:
        """The groups of ``level`` that hold members now."""
        return {self.by_name[n].group(level) for n, count in self.counts.items() if count}

    def room(self, name: str) -> bool:
        c = self.by_name[name]
        if self.counts[name] >= c.fits:
            return False
        return all(self.groups.get(level, Counter())[c.group(level)] < cap for level, cap in self.caps.items())


def place(total: int, candidates: Sequence[Candidate], caps: int | Mapping[str, int], *,
          previous: Sequence[Slot] = (), previous_init: str = "", spreads: Sequence[Spread] = (),
          reserved: Collection[int] = (), occupied: Mapping[str, int] = MappingProxyType({})) -> Placement:
    """Place ``total`` members; ``caps`` bounds members per group of each level (an int bounds clusters).

    New members never take an ``_id`` in ``reserved``; ``occupied`` counts other voters (an arbiter) per
    cluster against the caps."""
    cap_map = {CLUSTER: caps} if isinstance(caps, int) else dict(caps)
    levels = sorted(cap_map, key=lambda level: (level == CLUSTER, level))
    by_name = {c.name: c for c in candidates}
    excluded = {c.name: c.reason for c in candidates if not c.eligible}
    state = _State(by_name, {level: cap_map[level] for level in levels})

    def why_lost(slot: Slot) -> str:
        candidate = by_name.get(slot.cluster)
        return f"{slot.cluster} {candidate.reason}" if candidate else f"{slot.cluster} is gone from the snapshot"

    members = sorted(previous, key=lambda s: s.id)
    kept = [s for s in members if s.cluster in by_name and by_name[s.cluster].can_keep]
    lost = [s for s in members if not (s.cluster in by_name and by_name[s.cluster].can_keep)]
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
        kept, gone = _scale_down(kept, excess, state, levels)
        removed += gone
    held = Counter(state.counts)
    need = total - len(kept)
    picks = _fill(need, state, [c.name for c in candidates if c.eligible], spreads, levels)
    if len(picks) < need:
        raise Infeasible(_infeasible_message(total, candidates, cap_map, len(kept) + len(picks)),
                         _details(candidates, held, cap_map))
    for spread in spreads:
        used = state.used_groups(spread.level)
        if len(used) < min(spread.min_groups, total):
            available = {by_name[n].group(spread.level) for n in by_name if by_name[n].eligible}
            raise Infeasible(f"spreadConstraints need members in {spread.min_groups} groups by {spread.level}, "
                             f"but only {len(used)} could be used ({len(available)} eligible: "
                             f"{', '.join(sorted(available)) or 'none'})", _details(candidates, held, cap_map))
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
            if count > cap_map[level]:
                over[f"{level}={group}" if level != CLUSTER else group] = f"holds {count}, cap {cap_map[level]}"
    return Placement({n: counts[n] for n in order}, init, sorted(slots, key=lambda s: s.id), excluded,
                     sorted(c.name for c in candidates if c.eligible), moves, sorted(removed, key=lambda s: s.id),
                     over)


def _scale_down(kept: list[Slot], excess: int, state: _State, levels: list[str]) -> tuple[list[Slot], list[Slot]]:
    """Remove ``excess`` members: each time the highest ordinal of the cluster in the most loaded group (coarsest
    level first, then lower score, then larger name). Returns (kept, removed). O(excess x clusters + members):
    each cluster's members are ordered once, removals pop from the end."""
    by_name = state.by_name
    stacks: dict[str, list[Slot]] = {}
    for slot in sorted(kept, key=lambda s: (s.ordinal, -s.id)):  # ties: the lowest _id goes first
        stacks.setdefault(slot.cluster, []).append(slot)
    removed: list[Slot] = []
    for _ in range(excess):
        name = max((n for n, stack in stacks.items() if stack), key=lambda n: (
            *(state.groups[level][by_name[n].group(level)] for level in levels), -by_name[n].score, n))
        removed.append(stacks[name].pop())
        state.add(name, -1)
    gone = {id(s) for s in removed}
    return [s for s in kept if id(s) not in gone], removed


def place_arbiter(candidates: Sequence[Candidate], placement: Placement,
                  previous: Slot | None) -> tuple[Slot, Move | None]:
    """A voting member without data: it stays where it was while that cluster may keep it; otherwise it goes
    to an eligible cluster holding no data members, else to the one holding the fewest (then score, name)."""
    by_name = {c.name: c for c in candidates}
    used = {s.id for s in placement.slots}
    if previous is not None and previous.cluster in by_name and by_name[previous.cluster].can_keep \
            and previous.id not in used:
        return previous, None
    options = [c for c in candidates if c.eligible and c.fits >= 1 + placement.counts.get(c.name, 0)]
    if not options:
        raise Infeasible("no eligible cluster has room for the arbiter", _details(candidates, Counter(), {}))
    choice = min(options, key=lambda c: (placement.counts.get(c.name, 0), -c.score, c.name))
    new_id = previous.id if previous is not None and previous.id not in used else \
        next(i for i in range(len(used) + 1) if i not in used)
    slot = Slot(new_id, choice.name, 0)
    if previous is None:
        return slot, None
    reason = (f"{previous.cluster} {by_name[previous.cluster].reason}" if previous.cluster in by_name
              else f"{previous.cluster} is gone from the snapshot")
    return slot, Move(slot.id, previous.cluster, choice.name, reason)


def _fill(need: int, state: _State, eligible: list[str], spreads: Sequence[Spread],
          levels: list[str]) -> list[str]:
    """Clusters for up to ``need`` more members, in the order they are chosen (fewer when they don't fit)."""
    by_name = state.by_name
    allowed = set(eligible)
    for spread in spreads:
        if spread.max_groups is None:
            continue
        used = state.used_groups(spread.level)
        ranked = sorted({by_name[n].group(spread.level) for n in eligible} - used, key=lambda g: (
            -sum(by_name[n].fits for n in eligible if by_name[n].group(spread.level) == g), g))
        keep = used | set(ranked[: max(0, spread.max_groups - len(used))])
        allowed = {n for n in allowed if by_name[n].group(spread.level) in keep}
    picks: list[str] = []
    for _ in range(need):
        options = [n for n in allowed if state.room(n)]
        if not options:
            break
        in_use = [state.used_groups(spread.level) for spread in spreads]  # once per pick, not per option
        choice = min(options, key=partial(_pick_key, state=state, spreads=spreads, used=in_use, levels=levels))
        picks.append(choice)
        state.add(choice)
    return picks


def _pick_key(n: str, *, state: _State, spreads: Sequence[Spread], used: list[set[str]],
              levels: list[str]) -> tuple[object, ...]:
    """Order for the next pick: unmet minGroups first, then D'Hondt priority, coarse groups, score, name."""
    c = state.by_name[n]
    unmet = [len(u) < spread.min_groups and c.group(spread.level) not in u
             for spread, u in zip(spreads, used, strict=True)]
    priority = Fraction(max(c.weight, 0), 2 * state.counts[n] + 1)
    coarse = tuple(state.groups.get(level, Counter())[c.group(level)] for level in levels[:-1])
    return (*[not u for u in unmet], -priority, *coarse, -c.score, n)


def _infeasible_message(total: int, candidates: Sequence[Candidate], caps: Mapping[str, int], held: int) -> str:
    eligible = [c for c in candidates if c.eligible]
    if not eligible and not held:
        return f"no cluster is eligible for {total} members"
    limits = " and ".join(f"at most {cap} per {level}" for level, cap in sorted(caps.items()))
    return f"{total} members don't fit: the {len(eligible)} eligible clusters can hold {held} with {limits}"


def _details(candidates: Sequence[Candidate], held: Counter[str], caps: Mapping[str, int]) -> dict[str, str]:
    details = {}
    for c in candidates:
        if not c.eligible:
            details[c.name] = c.reason
            continue
        cap = caps.get(CLUSTER, c.fits)
        text = f"fits {c.fits}, may hold {min(c.fits, cap)}" + (f" (cap {cap})" if cap < c.fits else "")
        details[c.name] = text + (f", keeps {held[c.name]}" if held[c.name] else "")
    return details
