"""Regions, zones and providers that hold a majority of the votes, why, and what would change that.

Purely computational. A replica set elects a primary only with a majority of its votes (MongoDB manual,
"Replica Set Elections"), so a region, zone or provider holding more than half of them takes the primary
with it when it fails. The pack's ``groupCaps`` forbid that wherever three or more groups of the level can
hold members; with fewer (too few exist, or ``maxGroups`` chose fewer) a majority can't be avoided and the
cap is relaxed. :func:`voting_majorities` finds every such majority and says which of these it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedrender.scheduler.groups import CLUSTER, Spread, level_rank


@dataclass(frozen=True)
class Majority:
    """``group`` of ``level`` holds ``votes`` of ``voters`` votes, in ``clusters``; ``why`` and ``fix`` are
    sentences; ``constrained`` is True when spread constraints (``maxGroups``) are the cause."""

    level: str
    group: str
    votes: int
    voters: int
    clusters: tuple[str, ...]
    why: str
    fix: str
    constrained: bool = False

    def message(self) -> str:
        spanning = (" (clusters that list several zones count as one group of those zones)"
                    if "," in self.group or "{" in self.why else "")
        return (f"{self.level} {_shown(self.group)} holds {self.votes} of the {self.voters} votes (in "
                f"{', '.join(self.clusters)}), so if it fails the replica set has no primary: {self.why}; "
                f"{self.fix}{spanning}")


def _shown(group: str) -> str:
    """A group's name as messages show it: the zones of a cluster that lists several as ``{z1,z2}``."""
    return f"{{{group}}}" if "," in group else group


def _listed(groups: Sequence[str]) -> str:
    return ", ".join(_shown(g) for g in groups)


def voting_majorities(votes: Mapping[str, int], groups: Mapping[str, Mapping[str, str]], levels: Sequence[str],
                      usable: Mapping[str, Sequence[str]], available: Mapping[str, Sequence[str]],
                      spreads: Sequence[Spread], over_cap: Mapping[str, str], members: Mapping[str, int],
                      ) -> list[Majority]:
    """Every group of ``levels`` (cluster excluded: the pack's checks cover it) holding a voting majority.

    ``votes``/``members``: cluster -> votes / members there (the arbiter included); ``groups``: cluster ->
    {level: group}; ``usable``/``available``: level -> the groups that may hold members with / without the
    spread constraints' choice; ``over_cap``: the placement's caps exceeded by members placed earlier
    (``"level=group"``). Not reported: groups named ``""`` (clusters that don't say), levels at which every
    cluster that can hold members is in one group (a single-provider or single-region fleet: nothing to spread
    over), fewer than 3 voters (the pack's caps don't apply below 3 members), and a majority held by one
    cluster alone (the pack's cluster checks report that, with its cause)."""
    voters = sum(votes.values())
    total = sum(members.values())
    if voters < 3:
        return []
    out = []
    for level in sorted((lvl for lvl in levels if lvl != CLUSTER), key=level_rank):
        if len(available.get(level, ())) < 2:
            continue  # every cluster that can hold members is in one group: there is nothing to spread over
        tally: dict[str, int] = {}
        held: dict[str, int] = {}
        for cluster, count in votes.items():
            group = groups.get(cluster, {}).get(level, "")
            tally[group] = tally.get(group, 0) + count
        for cluster, count in members.items():
            group = groups.get(cluster, {}).get(level, "")
            held[group] = held.get(group, 0) + count
        for group, count in sorted(tally.items()):
            if not group or count * 2 <= voters:
                continue
            clusters = tuple(sorted(c for c, n in votes.items() if n and groups.get(c, {}).get(level, "") == group))
            if len(clusters) == 1 and votes[clusters[0]] * 2 > voters:
                continue  # one cluster holds the majority: the pack's cluster checks say so, and why
            why, fix, constrained = _cause(level, group, usable.get(level, ()), available.get(level, ()), spreads,
                                           f"{level}={group}" in over_cap, held.get(group, 0) * 2 <= total)
            out.append(Majority(level, group, count, voters, clusters, why, fix, constrained))
    return out


def _cause(level: str, group: str, usable: Sequence[str], available: Sequence[str], spreads: Sequence[Spread],
           inherited: bool, minority_of_members: bool) -> tuple[str, str, bool]:
    """(why, fix, caused by spread constraints) of one majority."""
    plural = "providers" if level == "provider" else f"{level}s"
    third = (f"make a cluster in a third {level} eligible (Ready, with a VIP and room for a member)"
             if len(available) < 3 else "")
    if len(usable) < 3 and len(usable) < len(available):
        limits = ", ".join(f"maxGroups {s.max_groups} by {s.level}" for s in spreads if s.max_groups)
        return (f"spreadConstraints ({limits}) let members use only {len(usable)} of the {len(available)} {plural} "
                f"that can hold members ({_listed(usable)} of {_listed(available)}), so it can't be avoided",
                f"raise maxGroups in spec.spreadConstraints so that members can use three {plural}"
                + (f", and {third}" if third else ""), True)
    if len(usable) < 3:
        return (f"only {len(available)} {plural} ({_listed(available) or 'none'}) have clusters that can hold "
                "members, so it can't be avoided", f"{third}, so that no {level} holds a majority", False)
    if inherited:
        return ("members placed earlier put it there, and fedrender doesn't move healthy members on its own",
                "scale down and up again, or move them by editing the state file", False)
    if minority_of_members:
        return ("its members are not a majority, but more of those that vote are there (at most 7 members vote)",
                f"give votes to members in other {plural}", False)
    return (f"the clusters in the other {plural} have no room for another voting member",
            f"free room in a cluster of another {level}, or add one", False)
