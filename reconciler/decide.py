"""What to do next: a pure function of the roster, the observed replica set and the local pods.

Safety rules (DESIGN section 6; MongoDB manual "Replica Set Deployment Architectures", "replSetReconfig",
"Default MongoDB Read Concerns/Write Concerns"):

* A replica set is initiated once, ever. Only the init cluster initiates, with its init member alone, and
  only when the roster does not say the set was initiated before (``spec.initialized``), no roster member
  reports a replica set, and every roster member could be asked: an unreachable member counts as unknown,
  never as uninitialised.
* Only the reconciler that sees the primary in its own cluster changes the configuration.
* Right after initiate the cluster-wide default write concern is set (``setDefaultRWConcern``, w majority):
  MongoDB 5.0+ refuses a reconfig that changes the implicit default (adding an arbiter does) without it.
* One voting change per reconfiguration, never ``force``. New data members join without a vote (votes 0,
  priority 0) and get it once they are SECONDARY; an arbiter (it always votes) joins once every data member
  that should vote does; departing data voters lose their vote before they are removed, an arbiter is
  removed directly; a primary that must lose its vote or leave is stepped down first. At most 7 voters.
* A member leaves when the roster no longer lists it (its cluster was lost or excluded: failover) or marks it
  ``leaving`` (the first phase of a scale-down: its pod still runs, and the renderer removes the pod only
  once an observed state shows the member out of the configuration); a member whose host changed (moved)
  leaves and joins again. A leaving member is never initiated with or added again.
* Users: root comes from the image's entrypoint on an empty data directory; the reconciler logs in as root
  and creates the others, and carries out a changed Secret with ``updateUser``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

MAX_VOTERS = 7
IN_SYNC = "in sync with the roster"
"""How ``_membership``'s Noop starts when the configuration matches the roster: later steps may go on."""
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
    tags: tuple[tuple[str, str], ...] = ()
    """The member's replica-set tags, sorted (the roster's ``tags``; ``cluster`` when it has none)."""
    leaving: bool = False
    """The roster's ``leaving``: take its vote, then remove it from the configuration (its pod still runs)."""

    def config_tags(self) -> dict[str, str]:
        return dict(self.tags) if self.tags else ({"cluster": self.cluster} if self.cluster else {})


@dataclass(frozen=True)
class Roster:
    """The MongoReplicaSet spec, as this cluster's reconciler reads it."""

    name: str
    members: tuple[Member, ...]
    init_cluster: str
    this_cluster: str
    users: tuple[str, ...] = USERS
    initialized: bool = False
    """``spec.initialized``: the set was initiated before (recorded by the renderer from status)."""
    version: str = ""
    """``spec.version``: the release (major.minor) the rendered image runs, "" unknown."""
    fcv: str = ""
    """``spec.featureCompatibilityVersion``: what the primary's reconciler sets once it may, "" for none."""
    template_hash: str = ""
    """``spec.templateHash``: the pod templates the renderer published ("" from a renderer without rollouts)."""
    max_lag_seconds: int = 10
    """``spec.rolloutMaxLagSeconds``: no restart while a data member is further behind the primary."""
    statefulset: str = ""
    """``spec.statefulSetName`` (the data StatefulSet; the arbiter's is ``<name>-arbiter``); "" = ``name``."""

    def local(self) -> list[Member]:
        return [m for m in self.members if m.cluster == self.this_cluster]


@dataclass(frozen=True)
class Observed:
    """What the adapters saw. ``config`` is empty when no member reachable from here knows a config."""

    config: tuple[Member, ...] = ()
    config_version: int = 0
    primary: str = ""
    states: Mapping[str, str] = field(default_factory=dict)
    ready_pods: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    sync_sources: Mapping[str, str] = field(default_factory=dict)
    lag_seconds: Mapping[str, int] = field(default_factory=dict)
    exists_on: str = ""
    """A roster member that already belongs to the replica set (set when no local member has a config)."""
    unknown: frozenset[str] = frozenset()
    """Roster hosts that could not be asked (pod not ready, unreachable): neither in a set nor uninitialised."""
    default_write_concern: str = ""
    """The cluster-wide default write concern's ``w`` ("" while only the implicit default applies)."""
    stale_users: frozenset[str] = frozenset()
    """Users whose Secret's password does not log in: the Secret was rotated."""
    auth_failed: str = ""
    """Why root could not log in (code 18), or ""."""
    fcv: str = ""
    """The primary's featureCompatibilityVersion (``getParameter``), read by the reconciler that reaches it."""
    fcv_target: str = ""
    """Its ``targetVersion``: non-empty while a featureCompatibilityVersion change is half-done."""
    binaries: Mapping[str, str] = field(default_factory=dict)
    """host -> ``buildInfo.version`` of each member that answered (every member when the primary is local)."""
    rollout: Rollout = field(default_factory=lambda: Rollout())
    """This cluster's StatefulSets and pods and the ``fedrender.rollout`` documents (rolling restarts)."""


@dataclass(frozen=True)
class Workload:
    """A local StatefulSet (``<sts>`` or ``<sts>-arbiter``), as apps/v1 reports it."""

    name: str
    template_hash: str = ""
    """``metadata.annotations["fedrender.io/template-hash"]``."""
    update_revision: str = ""
    """``status.updateRevision``: the ControllerRevision new pods are created from."""
    observed: bool = False
    """``status.observedGeneration == metadata.generation``: the controller has seen the current spec."""


@dataclass(frozen=True)
class Pod:
    """A local member's pod: its ``controller-revision-hash`` label against its own StatefulSet's revision."""

    name: str
    uid: str
    revision: str
    update_revision: str
    ordinal: int = 0
    """The pod's StatefulSet ordinal (restarts go highest first); -1 for the arbiter's pod."""

    @property
    def updated(self) -> bool:
        return bool(self.revision) and self.revision == self.update_revision


@dataclass(frozen=True)
class Claim:
    """``fedrender.rollout`` ``{_id: "restart", host, cluster, toRevision}``: the set's single restart slot."""

    host: str
    cluster: str
    to_revision: str


@dataclass(frozen=True)
class Row:
    """``fedrender.rollout`` ``{_id: <host>, cluster, revision, updated, templateHash, version}``: what the
    member's own cluster reported, read by the other clusters (the primary restarts only after every other
    member is updated)."""

    host: str
    cluster: str
    revision: str = ""
    updated: bool = False
    template_hash: str = ""
    version: str = ""


@dataclass(frozen=True)
class Rollout:
    """What the rolling restart decides on. ``read`` is False when nothing was read (no template hash)."""

    read: bool = False
    workloads: tuple[Workload, ...] = ()
    pods: Mapping[str, Pod] = field(default_factory=dict)
    """Local members' pods by host."""
    claim: Claim | None = None
    rows: Mapping[str, Row] = field(default_factory=dict)


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
class SetDefaultWriteConcern(Action):
    w: str = "majority"


@dataclass(frozen=True)
class AddMember(Action):
    member: Member  # data members always without a vote: votes 0, priority 0


@dataclass(frozen=True)
class RemoveMember(Action):
    member: Member


@dataclass(frozen=True)
class ChangeVotes(Action):
    member: Member  # the member with its new votes, priority and tags


@dataclass(frozen=True)
class StepDown(Action):
    host: str


@dataclass(frozen=True)
class CreateUser(Action):
    user: str


@dataclass(frozen=True)
class UpdateUser(Action):
    user: str


@dataclass(frozen=True)
class RecordMembers(Action):
    rows: tuple[Row, ...]  # this cluster's rows for ``fedrender.rollout``, upserted on the primary


@dataclass(frozen=True)
class ClaimRestart(Action):
    claim: Claim


@dataclass(frozen=True)
class RestartMember(Action):
    """Delete the member's pod (uid precondition); its StatefulSet recreates it at ``updateRevision``."""

    host: str
    pod: str
    uid: str


@dataclass(frozen=True)
class ReleaseRestart(Action):
    claim: Claim


def next_action(roster: Roster, observed: Observed) -> Action:
    """The next single step towards the roster, or Noop with why there is none."""
    if observed.auth_failed:
        return Noop(f"cannot log in as root: {observed.auth_failed}")
    if not observed.config:
        return _initiate(roster, observed)
    primary = next((m for m in observed.config if m.host == observed.primary), None)
    if primary is None:
        return Noop("no primary: waiting for an election")
    return rollout.after(roster, observed, _as_primary(roster, observed, primary))  # issue 14: rolling restart


def _as_primary(roster: Roster, observed: Observed, primary: Member) -> Action:
    """What the reconciler that runs the primary in its own cluster does; Noop (with why) in the others."""
    if _cluster_of(primary, roster) != roster.this_cluster:
        return Noop(f"the primary {primary.host} is in another cluster; its reconciler acts")
    if not observed.default_write_concern:
        return SetDefaultWriteConcern("set the cluster-wide default write concern to majority before any "
                                      "reconfig can change the implicit default (an arbiter joining does)")
    for user in roster.users:
        if user not in observed.users:
            return CreateUser(f"user {user} is missing; create it as root", user)
    for user in roster.users:
        if user in observed.stale_users:
            return UpdateUser(f"the Secret of user {user} changed; update its password", user)
    action = _membership(roster, observed, primary)
    return versions.feature_compatibility(roster, observed, action)  # reconciler/versions.py, once in sync


def _initiate(roster: Roster, observed: Observed) -> Action:
    if observed.exists_on:
        return Noop(f"{roster.name} already exists ({observed.exists_on} is a member): not initiating again; "
                    "the primary's cluster adds the members here")
    if roster.initialized:
        return Noop(f"{roster.name} was initiated before (spec.initialized): never initiating it again; "
                    "waiting to reach a member of the set")
    if roster.this_cluster != roster.init_cluster:
        return Noop(f"not initiated yet; the init cluster {roster.init_cluster} initiates")
    if observed.unknown:
        return Noop(f"not initiating while {', '.join(sorted(observed.unknown))} cannot be asked: an unreachable "
                    "member counts as unknown, not uninitialised")
    candidates = [m for m in roster.local() if not m.arbiter_only and not m.leaving]
    if not candidates:
        return Noop("this is the init cluster but the roster has no data member here")
    first = min(candidates, key=lambda m: (-m.priority, m.id))
    if first.host not in observed.ready_pods:
        return Noop(f"waiting for the pod of {first.host} to be ready")
    return Initiate(f"initiate {roster.name} with {first.host}", first)


def _membership(roster: Roster, observed: Observed, primary: Member) -> Action:
    desired = {m.id: m for m in roster.members if not m.leaving}  # a leaving member is not wanted in the config
    current = {m.id: m for m in observed.config}
    voters = sum(m.votes > 0 for m in observed.config)

    # Members that must leave: not in the roster, or moved to another host (they rejoin under the new one).
    leaving = sorted((m for m in observed.config if m.id not in desired or desired[m.id].host != m.host),
                     key=lambda m: m.id)
    # Joining: new in the roster (and not still present under an old host); never a leaving one.
    joining = sorted((m for m in desired.values() if m.id not in current), key=lambda m: m.id)
    # Vote changes for members present on the right host.
    promote = [desired[i] for i, m in sorted(current.items())
               if i in desired and desired[i].host == m.host and desired[i].votes > m.votes]
    demote = [desired[i] for i, m in sorted(current.items())
              if i in desired and desired[i].host == m.host and desired[i].votes < m.votes]
    marked = {m.id for m in roster.members if m.leaving}
    data_pending = [m for m in [*promote, *joining] if not m.arbiter_only and m.votes > 0]

    for member in joining:
        if member.arbiter_only:
            if data_pending or voters >= MAX_VOTERS:
                continue  # an arbiter completes the voters; it joins after the data members that vote
            return AddMember(f"add {member.host} as member {member.id} (arbiter): every data member that "
                             "should vote does", member)
        return AddMember(f"add {member.host} as member {member.id} without a vote until it is SECONDARY",
                         _voteless(member))
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
        if configured.votes > 0 and not configured.arbiter_only:
            target = _voteless(configured) if member in leaving else member
            return ChangeVotes(f"take the vote from member {member.id} ({configured.host})", target)
        if member in leaving:
            why = "the roster marks it leaving" if member.id in marked else "the roster no longer has it there"
            return RemoveMember(f"remove member {member.id} ({configured.host}): {why}", configured)
    for member_id, member in sorted(desired.items()):  # priority and tag changes, no vote moves
        present = current.get(member_id)
        if present is None or present.host != member.host or present.votes != member.votes:
            continue
        if present.priority != member.priority:
            if present.host == primary.host and member.priority == 0:
                return _step_down(primary, observed, "before its priority drops to 0")
            return ChangeVotes(f"set the priority of member {member_id} to {member.priority:g}", member)
        if present.config_tags() != member.config_tags():
            return ChangeVotes(f"set the tags of member {member_id} to {member.config_tags()}", member)
    waiting = [m for m in promote if observed.states.get(m.host) != "SECONDARY"]
    if waiting:
        return Noop(f"waiting for {', '.join(m.host for m in waiting)} to become SECONDARY")
    return Noop(f"{IN_SYNC} (config version {observed.config_version})")


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
    return replace(member, votes=0, priority=0.0)


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


def implicit_write_concern_majority(config: Sequence[Member]) -> bool:
    """MongoDB 5.0+'s implicit default write concern is majority unless the set has an arbiter and its
    data-bearing voters are no more than the voting majority (then it is w:1). MongoDB manual, "Default MongoDB
    Read Concerns/Write Concerns"."""
    voting = sum(m.votes > 0 for m in config)
    data_voting = sum(m.votes > 0 and not m.arbiter_only for m in config)
    arbiters = sum(m.arbiter_only for m in config)
    return not (arbiters > 0 and data_voting <= voting // 2 + 1)


# Imported last: both build on this module's Action, Roster and Observed, and next_action calls them.
from reconciler import rollout, versions  # noqa: E402
