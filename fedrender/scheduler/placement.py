"""Assign members to clusters. Purely computational: no I/O, no CEL; the rules arrive as data.

Members are added one at a time to the eligible cluster that has room (below both its capacity and the
per-cluster cap) and the fewest members so far, then the highest score, then the smallest name. That
spreads as evenly as the limits allow, and the result depends only on the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Candidate:
    """A cluster as the scheduler sees it: eligible or why not, members that fit, and its score."""

    name: str
    eligible: bool
    reason: str = ""
    fits: int = 0
    score: int = 0


@dataclass(frozen=True)
class Slot:
    """One member before roles: replica-set ``_id``, cluster and pod ordinal in that cluster."""

    id: int
    cluster: str
    ordinal: int


@dataclass(frozen=True)
class Placement:
    counts: dict[str, int]
    init_cluster: str
    slots: list[Slot]
    excluded: dict[str, str] = field(default_factory=dict)
    eligible: list[str] = field(default_factory=list)


class Infeasible(Exception):
    """No placement satisfies the limits; ``details`` say, per cluster, why it was excluded or what fits."""

    def __init__(self, message: str, details: dict[str, str]) -> None:
        self.message = message
        self.details = details
        super().__init__(message + "".join(f"\n  {name}: {why}" for name, why in sorted(details.items())))


def place(total: int, candidates: Sequence[Candidate], cap: int) -> Placement:
    """Place ``total`` members over the eligible ``candidates`` with at most ``cap`` in any one cluster."""
    by_name = {c.name: c for c in candidates}
    excluded = {c.name: c.reason for c in candidates if not c.eligible}
    eligible = sorted(c.name for c in candidates if c.eligible)
    room = {name: max(0, min(by_name[name].fits, cap)) for name in eligible}
    if sum(room.values()) < total:
        details = dict(excluded)
        for name in eligible:
            fits = by_name[name].fits
            details[name] = f"fits {fits}, may hold {min(fits, cap)}" + (f" (cap {cap})" if cap < fits else "")
        if not eligible:
            message = f"no cluster is eligible for {total} members"
        else:
            message = (f"{total} members don't fit: the {len(eligible)} eligible clusters can hold "
                       f"{sum(room.values())} with at most {cap} per cluster")
        raise Infeasible(message, details)
    counts = dict.fromkeys(eligible, 0)
    for _ in range(total):
        name = min((n for n in eligible if counts[n] < room[n]),
                   key=lambda n: (counts[n], -by_name[n].score, n))
        counts[name] += 1
    used = sorted((n for n in eligible if counts[n]), key=lambda n: (-counts[n], -by_name[n].score, n))
    slots: list[Slot] = []
    for ordinal in range(max(counts.values(), default=0)):
        for name in used:
            if counts[name] > ordinal:
                slots.append(Slot(len(slots), name, ordinal))
    return Placement({n: counts[n] for n in used}, used[0] if used else "", slots, excluded, eligible)
