"""MongoReplicaSet.status from what a reconciler saw and did: pure, and never carrying a password."""

from __future__ import annotations

from typing import Any

from reconciler.decide import Action, Initiate, Noop, Observed, Roster

HEALTHY_STATES = {"PRIMARY", "SECONDARY", "ARBITER"}


def build_status(generation: int, roster: Roster, observed: Observed, action: Action, error: str,
                 now: str) -> dict[str, Any]:
    """The status subresource this cluster's reconciler reports (Karmada aggregates them across clusters)."""
    desired = {(m.id, m.host, m.votes, m.priority) for m in roster.members}
    actual = {(m.id, m.host, m.votes, m.priority) for m in observed.config}
    initialized = bool(observed.config)
    in_sync = initialized and desired == actual
    unhealthy = sorted(h for h, s in observed.states.items() if s not in HEALTHY_STATES)
    users_ready = initialized and set(roster.users) <= observed.users
    if error:
        phase = "Degraded"
    elif not initialized:
        phase = "Initializing" if isinstance(action, Initiate) else "Pending"
    elif unhealthy:
        phase = "Degraded"
    elif in_sync and isinstance(action, Noop):
        phase = "Ready"
    else:
        phase = "Reconfiguring"
    members = [{"_id": m.id, "host": m.host, "stateStr": observed.states.get(m.host, "UNKNOWN"),
                "health": 1 if observed.states.get(m.host) in HEALTHY_STATES else 0,
                "syncSource": observed.sync_sources.get(m.host, ""), "lagSeconds": observed.lag_seconds.get(m.host, 0)}
               for m in observed.config]

    def condition(kind: str, ok: bool | None, reason: str, message: str) -> dict[str, Any]:
        status = "Unknown" if ok is None else ("True" if ok else "False")
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastTransitionTime": now, "observedGeneration": generation}

    primary_here = observed.primary in {m.host for m in roster.local()}
    return {
        "observedGeneration": generation,
        "phase": phase,
        "primary": observed.primary,
        "configVersion": observed.config_version,
        "members": members,
        "conditions": [
            condition("Initialized", initialized, "ReplicaSetConfig" if initialized else "NotInitiated",
                      f"config version {observed.config_version}" if initialized else action.reason),
            condition("UsersReady", users_ready if primary_here or users_ready else None,
                      "UsersExist" if users_ready else "UsersPending",
                      "root, clusterAdmin, clusterMonitor exist" if users_ready
                      else "created by the primary's cluster"),
            condition("MembersInSync", in_sync, "InSync" if in_sync else "Reconfiguring",
                      "the replica set config matches the roster" if in_sync else action.reason),
            condition("Ready", phase == "Ready", phase, error or action.reason),
        ],
    }
