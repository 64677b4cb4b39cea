"""When an observed MongoReplicaSet counts: pure decisions over (observation, previous state).

An observation is the control plane's ``MongoReplicaSet`` with the status Karmada aggregated from every member
cluster (``AggregateStatus`` in ``rules/mongodb/platform/interpreter.yaml``). It is **usable**, i.e. it may
justify a step that is only safe once the set has done something, only when all of these hold:

* it is in the snapshot;
* ``status.observedGeneration == metadata.generation``: the aggregation sets ``observedGeneration`` to the
  control plane's generation only when every cluster's reconciler observed its copy of that generation and the
  copy was propagated from it (annotation ``resourcetemplate.karmada.io/generation``, the rule Karmada applies to
  Deployments in its default interpreter, ``pkg/resourceinterpreter/default/native/aggregatestatus.go``);
* its ``spec.members`` (``_id -> host``) are the previous render's: otherwise it describes an older roster (Argo
  CD has not synced the last render yet) and says nothing about what that render asked for.

Facts that, once true, stay true count even from an observation that is not usable: a replica set once
initiated stays initiated (MongoDB manual, ``replSetInitiate``: "Initiates a replica set"; a second initiate
returns ``AlreadyInitialized``). Without any observation fedrender assumes nothing happened since the last
render and takes only steps safe under that assumption.

``waiting`` is the hook for the steps of issue 14 that need a usable observation (two-phase scale-down,
version upgrades, storage growth): each names what it waits for, and :func:`waiting` says why it cannot go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fedrender.models.observed import ObservedReplicaSet
from fedrender.models.state import InstanceState

HINT = "run fedrender snapshot to capture the MongoReplicaSets with the Clusters"


@dataclass(frozen=True)
class MemberReport:
    """A member of the replica set configuration as the status reports it."""

    id: int
    host: str
    state: str
    health: int
    votes: int | None


@dataclass(frozen=True)
class Observation:
    """What the snapshot tells about one instance, and whether it counts.

    ``reason`` is why it is not usable ("" when it is); ``initialized`` is the observed fact, usable or not."""

    key: str
    present: bool
    usable: bool
    reason: str
    generation: int | None = None
    observed_generation: int | None = None
    initialized: bool = False
    config_version: int = 0
    phase: str = ""
    members: tuple[MemberReport, ...] = field(default_factory=tuple)
    leaving: frozenset[int] = frozenset()
    """``_id``s the observed spec marks ``leaving`` (the roster the reconcilers acted on)."""
    feature_compatibility_version: str = ""
    """The primary's featureCompatibilityVersion (``status.featureCompatibilityVersion``), "" unknown."""
    fcv_target: str = ""
    """``status.fcvTargetVersion``: non-empty while an FCV change is half-done."""

    def summary(self) -> dict[str, Any]:
        """``observed`` of ``explain -o json``."""
        return {"present": self.present, "generation": self.generation,
                "observedGeneration": self.observed_generation, "usable": self.usable, "reason": self.reason,
                "initialized": self.initialized, "configVersion": self.config_version, "phase": self.phase,
                "members": [{"id": m.id, "host": m.host, "stateStr": m.state, "health": m.health, "votes": m.votes}
                            for m in self.members],
                **({"featureCompatibilityVersion": self.feature_compatibility_version}
                   if self.feature_compatibility_version else {}),
                **({"fcvTargetVersion": self.fcv_target} if self.fcv_target else {})}

    def text(self) -> str:
        """One line for text ``explain``."""
        if not self.present:
            return f"none ({self.reason})"
        parts = [f"generation {self.generation}, " + ("current" if self.usable else f"not usable: {self.reason}")]
        if self.initialized:
            parts.append(f"initialized, config version {self.config_version}")
        else:
            parts.append("not initialized")
        if self.phase:
            parts.append(f"phase {self.phase}")
        if self.feature_compatibility_version:
            target = f" (moving to {self.fcv_target})" if self.fcv_target else ""
            parts.append(f"featureCompatibilityVersion {self.feature_compatibility_version}{target}")
        if self.members:
            parts.append("members " + ", ".join(f"{m.id} {m.state or 'UNKNOWN'}" for m in self.members))
        return "; ".join(parts)


def observe(key: str, observed: ObservedReplicaSet | None, previous: InstanceState | None) -> Observation:
    """Judge the observation of instance ``key`` (``namespace/name``) against the previous render's state."""
    if observed is None:
        return Observation(key, False, False, f"the snapshot has no MongoReplicaSet {key}; {HINT}")
    status = observed.status
    generation = observed.metadata.generation
    seen = status.observedGeneration if status else None
    members = tuple(MemberReport(m.id, m.host, m.stateStr, m.health, m.votes)
                    for m in sorted(status.members, key=lambda m: m.id)) if status else ()
    base = Observation(key, True, False, "", generation, seen, observed_initialized(observed),
                       status.configVersion if status else 0, status.phase if status else "", members)
    reason = _unusable(observed, previous)
    leaving = frozenset(m.id for m in observed.spec.members if m.leaving)
    return replace(base, usable=not reason, reason=reason, leaving=leaving,
                   feature_compatibility_version=status.featureCompatibilityVersion if status else "",
                   fcv_target=status.fcvTargetVersion if status else "")


def _unusable(observed: ObservedReplicaSet, previous: InstanceState | None) -> str:
    status, generation = observed.status, observed.metadata.generation
    if status is None:
        return f"the MongoReplicaSet {observed.key} has no status yet (no reconciler reported)"
    if generation is None:
        return f"the MongoReplicaSet {observed.key} has no metadata.generation (not as the API server prints it)"
    if status.observedGeneration != generation:
        seen = "none" if status.observedGeneration is None else status.observedGeneration
        return (f"its status is for generation {seen} of {generation}: not every cluster has acted on the current "
                "spec yet")
    if previous is None:
        return "there is no previous state to compare its roster with"
    rendered = {m.id: m.host for m in previous.members}
    held = {m.id: m.host for m in observed.spec.members}
    if held != rendered:
        return (f"its roster ({_roster(held)}) is not the last render's ({_roster(rendered)}): the last render is "
                "not synced to the Karmada control plane yet")
    # The same hosts are not enough: an older roster (before a scale-up took leaving members back, or before the
    # set was initiated) must not count as the last render's, or its status would let go of members that vote.
    differs = _roster_differences(observed, previous)
    if differs:
        return (f"its roster differs from the last render's ({'; '.join(differs)}): it is an older MongoReplicaSet "
                "than the last render's, not synced to the Karmada control plane yet")
    return ""


def _roster_differences(observed: ObservedReplicaSet, previous: InstanceState) -> list[str]:
    """What the observed roster says otherwise than the last render wrote (votes, priority, arbiter, leaving of
    each member; ``initialized``; the version and featureCompatibilityVersion asked for)."""
    rendered = {m.id: m for m in previous.members}
    out = []
    for member in sorted(observed.spec.members, key=lambda m: m.id):
        mine = rendered[member.id]
        for key, theirs, ours in (("votes", member.votes, mine.votes), ("priority", member.priority,
                                  float(mine.priority)), ("arbiterOnly", member.arbiterOnly, mine.arbiterOnly),
                                  ("leaving", member.leaving, mine.leaving)):
            if theirs != ours:
                out.append(f"member {member.id} {key} {theirs} where the last render wrote {ours}")
    if observed.spec.initialized != previous.initialized:
        out.append(f"initialized {observed.spec.initialized} where the last render wrote {previous.initialized}")
    for name, asked, wrote in (("version", observed.spec.version, previous.version),
                               ("featureCompatibilityVersion", observed.spec.featureCompatibilityVersion,
                                previous.featureCompatibilityVersion)):
        if wrote and asked != wrote:  # a state from before versions were recorded knows none
            out.append(f"{name} {asked!r} where the last render wrote {wrote!r}")
    return out


def _roster(members: dict[int, str]) -> str:
    return ", ".join(f"{i} {host}" for i, host in sorted(members.items())) or "no members"


def observed_initialized(observed: ObservedReplicaSet) -> bool:
    """Whether the replica set was ever initiated, by any sign the status or spec gives: the aggregated
    ``initialized`` (sticky in the aggregation), a config version, a config member, a cluster's condition
    ``Initialized=True`` (``reconciler/status.py``), or a roster that already says so."""
    status = observed.status
    if observed.spec.initialized:
        return True
    if status is None:
        return False
    return (status.initialized or status.configVersion > 0 or bool(status.members)
            or any(c.type == "Initialized" and c.status == "True" for c in status.conditions))


def initialized(previous: InstanceState | None, observation: Observation) -> bool:
    """``previous.initialized or observed initialized``: once true, never false again, whatever later snapshots
    hold (a missing or stale MongoReplicaSet included)."""
    return bool(previous and previous.initialized) or observation.initialized


def waiting(observation: Observation, needs: Sequence[str]) -> list[str]:
    """A ``waiting:`` line for each step in ``needs`` (each says what it waits for) while the observation is not
    usable; nothing when it is. No step of this package needs one yet: scale-down, upgrades and storage growth
    call this with theirs."""
    if observation.usable:
        return []
    why = observation.reason if observation.present else f"the snapshot has no MongoReplicaSet {observation.key}"
    return [f"{need} (no current observed state: {why}; {HINT})" for need in needs]
