"""MongoReplicaSet.status from what a reconciler saw and did: pure, and never carrying a password.

Phases (in this order):

* ``Pending``: not initiated and nothing to do here yet, or root cannot log in (Ready's reason says
  ``AuthenticationFailed``);
* ``Initializing``: this reconciler initiates;
* ``Degraded``: the set lost something: no primary, a voting member unreachable, a member in ROLLBACK or
  RECOVERING past the deadline (``stuck``), or a member's restart past it (``RestartStuck``);
* ``Syncing``: a member is in STARTUP/STARTUP2 (initial sync) or briefly RECOVERING;
* ``Reconfiguring`` with reason ``RollingUpdate``: a member of the set is being restarted onto the current pod
  template, or a local member still runs an older one (the member under restart counts as neither lost nor
  syncing until its deadline);
* ``Reconfiguring``: the config differs from the roster, an action is under way or being retried (308, 109,
  NotWritablePrimary);
* ``Ready``: the config matches the roster, nothing to do, nothing failed.

Conditions (Kubernetes API conventions): ``Initialized``, ``UsersReady``, ``MembersInSync``, ``MembersUpdated``
(with a template hash), ``MembersLeaving`` (members the roster marks leaving: True while the config still lists
them), ``Ready`` and ``StorageResized`` (while claims grow). They keep their ``lastTransitionTime`` unless their
status changes.

Rolling restarts (issue 14 §3; fields the Karmada aggregation and the Argo CD health check read), once the
roster has a ``templateHash``: ``observedGeneration`` only when the local StatefulSets carry that hash and
their controller observed them; ``updateRevision`` (the local data StatefulSet's), ``updatedMembers`` (local
members not leaving whose pod runs their StatefulSet's ``updateRevision`` and that are healthy), per local
member ``cluster``, ``revision``, ``updated`` and ``version`` (``buildInfo``), and the condition
``MembersUpdated`` ("2 of 5 members run the current pod template; restarting <host>").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler import rollout
from reconciler.decide import Action, Initiate, Noop, Observed, Roster
from reconciler.storage import Report

HEALTHY_STATES = {"PRIMARY", "SECONDARY", "ARBITER"}
SYNCING_STATES = {"STARTUP", "STARTUP2", "RECOVERING"}


def _storage_phase(phase: str, reason: str, storage: Report | None) -> tuple[str, str]:
    """``storage`` (the growth of the local claims, :func:`reconciler.storage.report`; reported as
    ``status.storage``, each local member's ``storage`` and the condition ``StorageResized``): a claim that may not
    grow degrades an otherwise healthy set; one still growing keeps it Progressing."""
    if storage is None or phase not in ("Ready", "Reconfiguring"):
        return phase, reason
    if storage.blocked:
        return "Degraded", "ExpansionNotAllowed"
    if storage.pending and phase == "Ready":
        return "Progressing", "StorageResizing"
    return phase, reason


def build_status(generation: int, roster: Roster, observed: Observed, action: Action, now: str, *,
                 error: str = "", error_reason: str = "", problems: Sequence[str] = (),
                 stuck: frozenset[str] = frozenset(), restart_stuck: str = "",
                 previous: Sequence[Mapping[str, Any]] = (), storage: Report | None = None) -> dict[str, Any]:
    """The status subresource this cluster's reconciler reports (Karmada aggregates them across clusters).

    ``error``/``error_reason``: a failed or retried action (a message and a CamelCase reason); ``problems``:
    invalid Secrets; ``stuck``: hosts in ROLLBACK/RECOVERING past the deadline; ``restart_stuck``: the host
    whose restart (the restart slot) lasts past the deadline, or ""; ``previous``: the conditions
    reported before (their transition times are kept)."""
    initialized = bool(observed.config)
    in_sync = initialized and rollout.in_sync(roster, observed)  # the members marked leaving out of the config
    users_ready = initialized and set(roster.users) <= observed.users and not observed.stale_users and not problems
    claim = observed.rollout.claim
    restarting = claim.host if claim is not None and not restart_stuck else ""  # down on purpose, for now
    voters = {m.host for m in observed.config if m.votes > 0} - {restarting}
    lost = sorted(h for h in voters if observed.states.get(h, "") not in HEALTHY_STATES | SYNCING_STATES)
    syncing = sorted(h for h, s in observed.states.items() if s in SYNCING_STATES and h != restarting)
    rolling = _rolling(roster, observed)
    if observed.auth_failed:
        phase, reason = "Pending", "AuthenticationFailed"
    elif not initialized:
        phase = "Initializing" if isinstance(action, Initiate) else "Pending"
        reason = error_reason or phase
    elif not observed.primary or lost or stuck or restart_stuck:
        phase, reason = "Degraded", ("NoPrimary" if not observed.primary else "RestartStuck" if restart_stuck
                                     else "MemberUnreachable" if lost else "MemberStuck")
    elif syncing:
        phase, reason = "Syncing", "InitialSync"
    elif rolling and not error:
        phase, reason = "Reconfiguring", "RollingUpdate"
    elif in_sync and isinstance(action, Noop) and not error and not observed.stale_users:
        phase, reason = "Ready", "Ready"
    else:
        phase, reason = "Reconfiguring", error_reason or "Reconfiguring"
    phase, reason = _storage_phase(phase, reason, storage)
    members = [{"_id": m.id, "host": m.host, "stateStr": observed.states.get(m.host, "UNKNOWN"),
                "health": 1 if observed.states.get(m.host) in HEALTHY_STATES else 0, "votes": m.votes,
                "syncSource": observed.sync_sources.get(m.host, ""), "lagSeconds": observed.lag_seconds.get(m.host, 0)}
               for m in observed.config]
    capacity = storage.capacity if storage is not None else {}
    for row in members:
        if row["host"] in capacity:
            row["storage"] = capacity[str(row["host"])]
    local = {m.host for m in roster.local()}
    for row in members:  # a member's binary, reported by its own cluster only
        if row["host"] in local and observed.binaries.get(row["host"]):
            row["version"] = observed.binaries[row["host"]]
    before = {str(c.get("type")): c for c in previous}

    def condition(kind: str, ok: bool | None, why: str, message: str) -> dict[str, Any]:
        status = "Unknown" if ok is None else ("True" if ok else "False")
        old = before.get(kind, {})
        since = str(old["lastTransitionTime"]) if old.get("status") == status and old.get("lastTransitionTime") else now
        return {"type": kind, "status": status, "reason": why, "message": message[:1024],
                "lastTransitionTime": since, "observedGeneration": generation}

    primary_here = observed.primary in {m.host for m in roster.local()}
    if problems:
        users_reason, users_message = "SecretInvalid", "; ".join(problems)
    elif observed.auth_failed:
        users_reason, users_message = "AuthenticationFailed", observed.auth_failed
    elif observed.stale_users:
        users_reason, users_message = "PasswordChanging", f"updating {', '.join(sorted(observed.stale_users))}"
    elif users_ready:
        users_reason, users_message = "UsersExist", f"{', '.join(roster.users)} exist"
    else:
        users_reason, users_message = "UsersPending", "created by the primary's cluster"
    known = users_ready or primary_here or bool(problems) or bool(observed.auth_failed)
    marked = sorted(m.id for m in roster.members if m.leaving)
    configured = {m.id for m in observed.config}
    still = [i for i in marked if i in configured]
    if still:
        leaving = condition("MembersLeaving", True, "LeavingConfiguration",
                            f"{_ids(still)} {'leave' if len(still) > 1 else 'leaves'} the replica set configuration "
                            "(votes first, one per reconfig); the pods stay until a render whose observed state "
                            "shows the configuration without them")
    elif marked and initialized:
        leaving = condition("MembersLeaving", False, "LeftConfiguration",
                            f"{_ids(marked)} left the replica set configuration: the next fedrender render, reading "
                            "this status, removes their pods and Services")
    else:
        leaving = condition("MembersLeaving", False, "NoneLeaving", "the roster marks no member leaving")
    detail = observed.auth_failed or error or action.reason
    if restart_stuck:
        detail = (f"the restart of {restart_stuck} is stuck: it is {observed.states.get(restart_stuck) or 'unknown'} "
                  "and has not come back SECONDARY and caught up; the restart slot stays held, so no other member "
                  "restarts until it does")
    conditions = [
        condition("Initialized", initialized, "ReplicaSetConfig" if initialized else "NotInitiated",
                  f"config version {observed.config_version}" if initialized else detail),
        condition("UsersReady", users_ready if known else None, users_reason, users_message),
        condition("MembersInSync", in_sync, "InSync" if in_sync else "Reconfiguring",
                  "the replica set config matches the roster" if in_sync else action.reason),
        leaving,
        condition("Ready", phase == "Ready", reason, detail),
        *([condition("StorageResized", *storage.condition())] if storage is not None else []),
    ]
    out: dict[str, Any] = {"observedGeneration": generation}
    if roster.template_hash:
        _rollout_status(out, roster, observed, members, conditions, condition)
    return {
        **out,
        "phase": phase,
        "primary": observed.primary,
        "configVersion": observed.config_version,
        "members": members,
        **({"featureCompatibilityVersion": observed.fcv, "fcvTargetVersion": observed.fcv_target}
           if primary_here and observed.fcv else {}),
        "conditions": conditions,
        **({"storage": {"requested": storage.requested, "resized": storage.resized, "pending": storage.pending}}
           if storage is not None else {}),
    }


def _ids(ids: Sequence[int]) -> str:
    return f"members {', '.join(map(str, ids))}" if len(ids) > 1 else f"member {ids[0]}"


def _rolling(roster: Roster, observed: Observed) -> bool:
    """A rolling restart is under way: a member holds the restart slot, a local StatefulSet does not carry the
    roster's template yet, or a member (not leaving) does not run the current pod template: a local one by its
    pod, another cluster's by the row that cluster recorded in ``fedrender.rollout``."""
    if not roster.template_hash:
        return False
    if observed.rollout.claim is not None or rollout.template_pending(roster, observed):
        return True
    wanted = {m.host for m in roster.members if not m.leaving}
    return not all(rollout.updated(m, roster, observed) for m in observed.config if m.host in wanted)


def _rollout_status(out: dict[str, Any], roster: Roster, observed: Observed, members: list[dict[str, Any]],
                    conditions: list[dict[str, Any]], condition: Callable[..., dict[str, Any]]) -> None:
    """The rolling-restart fields (I14-COMMON contract): observedGeneration only for a delivered template."""
    view = observed.rollout
    pending = rollout.template_pending(roster, observed)
    if pending:
        del out["observedGeneration"]  # not acted on yet: the StatefulSets here still have an older template
    data = next((w for w in view.workloads if w.name == (roster.statefulset or roster.name)), None)
    local = [m for m in roster.local() if not m.leaving]
    out["updateRevision"] = data.update_revision if data is not None else ""
    out["updatedMembers"] = sum(1 for m in local if m.host in view.pods and view.pods[m.host].updated
                                and observed.states.get(m.host) in HEALTHY_STATES)
    here = {m.host for m in roster.local()}
    for row in members:
        host = row["host"]
        if host not in here:
            continue
        pod = view.pods.get(host)
        old = view.rows.get(host)
        row.update(cluster=roster.this_cluster, revision=pod.revision if pod else "",
                   updated=bool(pod and pod.updated),
                   version=observed.binaries.get(host) or (old.version if old else ""))
    wanted = [m for m in observed.config if m.host in {r.host for r in roster.members if not r.leaving}]
    done = sum(rollout.updated(m, roster, observed) for m in wanted)
    message = f"{done} of {len(wanted)} members run the current pod template"
    if view.claim is not None:
        message += f"; restarting {view.claim.host}"
    if pending:
        message += f"; waiting for {pending}"
    ok = done == len(wanted) and not pending and view.claim is None
    conditions.insert(3, condition("MembersUpdated", ok, "Updated" if ok else "RollingUpdate", message))
