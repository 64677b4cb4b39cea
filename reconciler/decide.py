"""What to do next: a pure function of the roster, the observed replica set and the local pods.

Safety rules (DESIGN section 6):

* Only the init cluster initiates, once its init member's pod is ready, with that one member.
* Only the reconciler that sees the primary in its own cluster changes the configuration.
* One voting change per reconfiguration, never ``force``. New members join without a vote (votes 0,
  priority 0) and get it once they are SECONDARY; departing voters lose their vote before they are removed;
  a primary that must lose its vote or leave is stepped down first. The number of voters never exceeds 7.
* A member leaves only when the roster no longer lists it (its pod was removed by scale-down or its cluster
  was excluded); a member whose host changed (moved) leaves and joins again.
* Users are created in order: root (the localhost exception), then the others, with root's credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MAX_VOTERS = 7
USERS = ("root", "clusterAdmin", "clusterMonitor")


@dataclass(frozen=True)
class Member:
    """A replica-set member, as the roster wants it or as the configuration has it."""

    id: int
    host: str
    votes: int = 1
    priority: float = 1.0
    arbiter_only: bool = False
    cluster: str = ""


@dataclass(frozen=True)
class Roster:
    """The MongoReplicaSet spec, as this cluster's reconciler reads it."""

    name: str
    members: tuple[Member, ...]
    init_cluster: str
    this_cluster: str
    users: tuple[str, ...] = USERS

    def local(self) -> list[Member]:
        return [m for m in self.members if m.cluster == self.this_cluster]


@dataclass(frozen=True)
class Observed:
    """What the adapters saw. ``config`` is empty when the replica set is not initiated."""

    config: tuple[Member, ...] = ()
    config_version: int = 0
    primary: str = ""
    states: Mapping[str, str] = field(default_factory=dict)
    ready_pods: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    sync_sources: Mapping[str, str] = field(default_factory=dict)
    lag_seconds: Mapping[str, int] = field(default_factory=dict)
    exists_on: str = ""
    """A member elsewhere that already belongs to the replica set (set when no local member has a config)."""


@dataclass(frozen=True)
class Action:
    reason: str


@dataclass(frozen=True)
class Noop(Action):
    pass


@dataclass(frozen=True)
class Initiate(Action):
    member: Member


@dataclass(frozen=True)
class AddMember(Action):
    member: Member  # always without a vote: votes 0, priority 0 (arbiters excepted)


@dataclass(frozen=True)
class RemoveMember(Action):
    member: Member


@dataclass(frozen=True)
class ChangeVotes(Action):
    member: Member  # the member with its new votes and priority


@dataclass(frozen=True)
class StepDown(Action):
    host: str


@dataclass(frozen=True)
class CreateUser(Action):
    user: str


def next_action(roster: Roster, observed: Observed) -> Action:
    """The next single step towards the roster, or Noop with why there is none."""
    if not observed.config:
        return _initiate(roster, observed)
    primary = next((m for m in observed.config if m.host == observed.primary), None)
    if primary is None:
        return Noop("no primary: waiting for an election")
    if _cluster_of(primary, roster) != roster.this_cluster:
        return Noop(f"the primary {primary.host} is in another cluster; its reconciler acts")
    for user in roster.users:
        if user not in observed.users:
            how = "through the localhost exception" if user == "root" else "with the root user"
            return CreateUser(f"user {user} is missing; create it {how}", user)
    return _membership(roster, observed, primary)


def _initiate(roster: Roster, observed: Observed) -> Action:
    if observed.exists_on:
        return Noop(f"{roster.name} already exists ({observed.exists_on} is a member): not initiating again; "
                    "the primary's cluster adds the members here")
    if roster.this_cluster != roster.init_cluster:
        return Noop(f"not initiated yet; the init cluster {roster.init_cluster} initiates")
    candidates = [m for m in roster.local() if not m.arbiter_only]
    if not candidates:
        return Noop("this is the init cluster but the roster has no data member here")
    first = min(candidates, key=lambda m: (-m.priority, m.id))
    if first.host not in observed.ready_pods:
        return Noop(f"waiting for the pod of {first.host} to be ready")
    return Initiate(f"initiate {roster.name} with {first.host}", first)


def _membership(roster: Roster, observed: Observed, primary: Member) -> Action:
    desired = {m.id: m for m in roster.members}
    current = {m.id: m for m in observed.config}
    voters = sum(m.votes > 0 for m in observed.config)

    # Members that must leave: not in the roster, or moved to another host (they rejoin under the new one).
    leaving = sorted((m for m in observed.config if m.id not in desired or desired[m.id].host != m.host),
                     key=lambda m: m.id)
    # Joining: new in the roster (and not still present under an old host).
    joining = sorted((m for m in roster.members if m.id not in current), key=lambda m: m.id)
    # Vote changes for members present on the right host.
    promote = [desired[i] for i, m in sorted(current.items())
               if i in desired and desired[i].host == m.host and desired[i].votes > m.votes]
    demote = [desired[i] for i, m in sorted(current.items())
              if i in desired and desired[i].host == m.host and desired[i].votes < m.votes]

    for member in joining:
        if member.arbiter_only and voters >= MAX_VOTERS:
            break
        return AddMember(f"add {member.host} as member {member.id}" + (" (arbiter)" if member.arbiter_only
                                                                        else " without a vote until it is SECONDARY"),
                         member if member.arbiter_only else _voteless(member))
    for member in promote:
        state = observed.states.get(member.host, "")
        if state != "SECONDARY":
            continue
        if voters >= MAX_VOTERS:
            break  # demote someone first
        return ChangeVotes(f"give member {member.id} ({member.host}) its vote: it is SECONDARY", member)
    for member in [*demote, *leaving]:
        if member.host == primary.host:
            return _step_down(primary, observed, "before it loses its vote or leaves")
        configured = current[member.id]
        if configured.votes > 0:
            target = _voteless(configured) if member in leaving else member
            return ChangeVotes(f"take the vote from member {member.id} ({configured.host})", target)
        if member in leaving:
            return RemoveMember(f"remove member {member.id} ({configured.host}): the roster no longer has it there",
                                configured)
    for member_id, member in sorted(desired.items()):  # priority-only changes, no vote moves
        present = current.get(member_id)
        if present is not None and present.host == member.host and present.votes == member.votes \
                and present.priority != member.priority:
            if present.host == primary.host and member.priority == 0:
                return _step_down(primary, observed, "before its priority drops to 0")
            return ChangeVotes(f"set the priority of member {member_id} to {member.priority:g}", member)
    pending = [m for m in promote if observed.states.get(m.host) != "SECONDARY"]
    if pending:
        return Noop(f"waiting for {', '.join(m.host for m in pending)} to become SECONDARY")
    return Noop(f"in sync with the roster (config version {observed.config_version})")


def _step_down(primary: Member, observed: Observed, why: str) -> Action:
    """Step down only when another member can take over; otherwise stepping down just loses the primary."""
    electable = [m for m in observed.config if m.host != primary.host and m.votes > 0 and m.priority > 0
                 and observed.states.get(m.host) == "SECONDARY"]
    if not electable:
        return Noop(f"the primary {primary.host} must step down {why}, but no other member can be elected yet")
    return StepDown(f"step the primary {primary.host} down {why}", primary.host)


def _cluster_of(member: Member, roster: Roster) -> str:
    """The cluster a configured member runs in: its tag, else what the roster says of its host."""
    if member.cluster:
        return member.cluster
    return next((m.cluster for m in roster.members if m.host == member.host), "")


def _voteless(member: Member) -> Member:
    return Member(member.id, member.host, 0, 0.0, member.arbiter_only, member.cluster)


def apply(config: Sequence[Member], action: Action) -> list[Member]:
    """The configuration after ``action`` (for reconfig actions); a pure helper for adapters and tests."""
    members = list(config)
    if isinstance(action, AddMember):
        members.append(action.member)
    elif isinstance(action, RemoveMember):
        members = [m for m in members if m.id != action.member.id]
    elif isinstance(action, ChangeVotes):
        members = [action.member if m.id == action.member.id else m for m in members]
    return sorted(members, key=lambda m: m.id)


def voting_changes(before: Sequence[Member], after: Sequence[Member]) -> int:
    """How many members gained or lost a vote between two configurations (MongoDB allows one per reconfig)."""
    old = {m.id: m.votes > 0 for m in before}
    new = {m.id: m.votes > 0 for m in after}
    return sum(old.get(i, False) != new.get(i, False) for i in set(old) | set(new))
