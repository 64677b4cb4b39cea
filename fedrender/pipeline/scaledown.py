"""Scale-down in two phases: a member leaves the replica set configuration before its pod goes.

MongoDB manual, "Remove Members from a Self-Managed Replica Set" and ``replSetReconfig``: a member is removed by
a reconfig on the primary, one voting change per reconfig, and the primary cannot remove itself (it steps down
first). Shrinking a StatefulSet first would stop the pods of members that still vote: 5 -> 2 stops three of five
voters, the set loses its primary, and only a forced reconfig recovers it (Percona K8SPSMDB-1103; FedState's
``ServerWaitingScaleDown``).

So a render that drops members of a cluster that is still reachable keeps them, on their cluster, ordinal, host
and NodePort, marked **leaving** (votes 0, priority 0); the reconcilers take their votes and remove them
(``reconciler/decide.py``). Only a later render whose observation is usable
(:mod:`fedrender.day2.observe`) and shows them out of the configuration, while the observed roster marks them
leaving, drops them: StatefulSets shrink and their Services go. Members of a cluster that is gone, not Ready or
tainted NoExecute are dropped at once, as before (failover: their pods are unreachable; the reconcilers remove
them). A scale-up while members are leaving reinstates them first (same ``_id``, ordinal, host and port): their
pods never went away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from fedrender.day2.observe import Observation, waiting
from fedrender.models.state import MemberState
from fedrender.models.views import ClusterView
from fedrender.scheduler.placement import Placement, Slot


@dataclass(frozen=True)
class Settled:
    """The placement with the members still leaving added (``leaving``: their ``_id``s), what waits, what the
    observation allowed."""

    placement: Placement
    leaving: frozenset[int]
    waiting: list[str]
    allowed: list[str]
    arbiter: Slot | None = None
    """The arbiter: the one placed, or the previous one while it leaves (no longer wanted, its cluster
    reachable): an arbiter always votes (MongoDB refuses ``votes: 0`` on an arbiter), so it leaves the
    configuration in one reconfig, and its pod and Service stay until an observation shows it out."""


def reachable(view: ClusterView | None) -> bool:
    """Whether the pods of a cluster can still be reached: in the snapshot, Ready, and not tainted NoExecute
    (Kubernetes evicts every pod that does not tolerate it)."""
    return view is not None and view.ready and not any(t.effect == "NoExecute" for t in view.taints)


def leaving_before(previous: Sequence[MemberState]) -> list[Slot]:
    """The data members the previous render marked leaving."""
    return [Slot(m.id, m.cluster, m.ordinal) for m in previous if m.leaving and not m.arbiterOnly]


def settle(placement: Placement, previous: Sequence[MemberState], views: Mapping[str, ClusterView],
           observation: Observation | None, arbiter: Slot | None = None) -> Settled:
    """Keep the previous data members that ``placement`` dropped, and the previous arbiter when ``arbiter`` (the
    one placed) is None, until the observation shows them out.

    A new slot on the cluster and ordinal of a leaving member takes that member back (reinstated: same ``_id``,
    host and NodePort). ``observation`` None: the pack renders no MongoReplicaSet, nothing to wait for."""
    if observation is None:
        return Settled(placement, frozenset(), [], [], arbiter)
    placed = {s.id for s in placement.slots}
    dropped = [Slot(m.id, m.cluster, m.ordinal) for m in sorted(previous, key=lambda m: m.id)
               if not m.arbiterOnly and m.id not in placed and reachable(views.get(m.cluster))]
    reported = {m.id for m in observation.members}
    configured = bool(reported) or not observation.initialized

    def out(slot: Slot) -> bool:
        return observation.usable and configured and slot.id not in reported and slot.id in observation.leaving
    old_arbiter = next((Slot(m.id, m.cluster, m.ordinal) for m in previous if m.arbiterOnly), None)
    arbiter_leaves = (arbiter is None and old_arbiter is not None and reachable(views.get(old_arbiter.cluster))
                      and not out(old_arbiter))
    left = [s for s in dropped if out(s)]
    if arbiter is None and old_arbiter is not None and out(old_arbiter):
        left.append(old_arbiter)
    staying = {(s.cluster, s.ordinal): s for s in dropped if s not in left}
    slots, reinstated, moves = [], set(), list(placement.moves)
    for slot in placement.slots:
        back = staying.pop((slot.cluster, slot.ordinal), None)
        if back is not None:  # a scale-up while it leaves: take it back rather than a new member beside it
            reinstated.add(back.id)
            moves = [m for m in moves if m.id != slot.id]
            slot = back
        slots.append(slot)
    still = sorted(staying.values(), key=lambda s: s.id)
    slots = sorted([*slots, *still], key=lambda s: s.id)
    counts = Counter(s.cluster for s in slots)
    order = [*placement.counts, *sorted(set(counts) - set(placement.counts))]
    settled = replace(placement, counts={n: counts[n] for n in order if counts[n]}, slots=slots, moves=moves,
                      removed=[s for s in placement.removed if s.id not in {x.id for x in still} | reinstated])
    going = [*still, *([old_arbiter] if arbiter_leaves and old_arbiter else [])]
    ids = ", ".join(f"{s.id} (the arbiter)" if arbiter_leaves and s is old_arbiter else str(s.id) for s in going)
    wait, allowed = [], []
    if going:
        plural = "members" if len(going) > 1 else "member"
        verb = "leave" if len(going) > 1 else "leaves"
        need = f"{plural} {ids} {verb} the replica set configuration first"
        if observation.usable:
            listed = [s.id for s in going if s.id in reported]
            why = (f"observed config version {observation.config_version} still lists "
                   f"{', '.join(map(str, listed))}" if listed else "the observed roster does not mark them leaving "
                   "yet")
            wait.append(f"{need} ({why}); their pods, Services and NodePorts stay")
        else:
            wait.extend(waiting(observation, [need]))
    if left:
        allowed.append(f"members {', '.join(str(s.id) for s in left)} left the replica set configuration "
                       f"(observed generation {observation.generation}): their pods, Services and NodePorts go")
    return Settled(settled, frozenset(s.id for s in going), wait, allowed,
                   old_arbiter if arbiter_leaves else arbiter)


def availability(voters_before: int, voters_after: int, members_after: int) -> str:
    """A warning when a scale-down leaves fewer than 3 voters (of ``members_after`` data members), saying what
    availability is left, or ""."""
    if voters_after >= 3 or voters_after >= voters_before:
        return ""
    if voters_after == 2:
        return ("after this scale-down 2 members vote: the set keeps a primary only while both are up; no member "
                "or cluster failure is tolerated")
    if voters_after == 1:
        if members_after <= 1:
            return ("after this scale-down a single member is left: losing it loses the primary and the only copy "
                    "of the data")
        return (f"after this scale-down a single member of {members_after} votes: losing it loses the primary (the "
                "others keep copies of the data but cannot elect one)")
    return ""
