"""Rolling restarts after a pod template change: pure, one member of the whole set at a time (issue 14 §3).

The StatefulSets keep ``updateStrategy: OnDelete``: their controllers never restart a pod on their own, so
the reconciler in each member cluster restarts its own members, coordinated through the replica set itself
(reconcilers never talk to each other). The order follows the MongoDB manual, "Restart a Self-Managed Replica
Set" and "Perform Maintenance on Self-Managed Replica Set Members": secondaries (and arbiters) one at a time,
then ``rs.stepDown()``, then the former primary. Every gate below must hold before a member is claimed:

1. the configuration matches the roster (no membership step pending; a leaving member is never restarted);
2. the local StatefulSets carry the roster's ``templateHash`` and their controller observed them
   (``status.observedGeneration == metadata.generation``), so ``updateRevision`` is the new template's;
3. there is a primary and every configuration member is PRIMARY, SECONDARY or ARBITER;
4. every data member is at most ``spec.rolloutMaxLagSeconds`` (default 10) behind the primary, the
   catch-up ``replSetStepDown`` waits for by default (``secondaryCatchUpPeriodSecs``);
5. no member holds the restart slot (``fedrender.rollout`` ``{_id: "restart"}``, taken by insert on the
   primary with ``w: "majority"``; code 11000 means another cluster holds it), or this cluster does.

Then a local outdated member that is not the primary goes first, the highest ordinal first within the cluster.
The primary goes last, only once every other member runs the current template (its own pod here, the rows
the other clusters record in ``fedrender.rollout``), and is stepped down first (never with ``force``).
After ``RestartMember`` the claim is held until the member is back SECONDARY or ARBITER, caught up, on the
new revision; then it is released. A claim is never released while its member is unhealthy: past
``--stuck-seconds`` the status says Degraded, reason ``RestartStuck`` (``reconciler/status.py``).
"""

from __future__ import annotations

from reconciler import decide, versions

HEALTHY_STATES = frozenset({"PRIMARY", "SECONDARY", "ARBITER"})
RESTARTED_STATES = frozenset({"SECONDARY", "ARBITER"})


def after(roster: decide.Roster, observed: decide.Observed, action: decide.Action) -> decide.Action:
    """``action`` (the membership decision), or, once it is a Noop with the membership in sync and a template
    hash to roll out, the next rolling-restart step (the Noop itself when there is none)."""
    if not isinstance(action, decide.Noop) or not roster.template_hash or not observed.rollout.read:
        return action
    if not in_sync(roster, observed):
        return action
    return step(roster, observed) or action


def in_sync(roster: decide.Roster, observed: decide.Observed) -> bool:
    """The configuration holds exactly the roster's members that are not leaving, with their votes, priority
    and tags."""
    def key(m: decide.Member) -> tuple[int, str, int, float, tuple[tuple[str, str], ...]]:
        return m.id, m.host, m.votes, m.priority, tuple(sorted(m.config_tags().items()))
    return {key(m) for m in roster.members if not m.leaving} == {key(m) for m in observed.config}


def step(roster: decide.Roster, observed: decide.Observed) -> decide.Action | None:
    """The next rolling-restart action for this cluster, a Noop saying what it waits for, or None when this
    cluster has nothing to restart."""
    view = observed.rollout
    if view.claim is not None:
        return _finish(roster, observed, view.claim)
    pending = template_pending(roster, observed)
    if pending:
        return decide.Noop(f"waiting for {pending}")
    rows = local_rows(roster, observed)
    if any(view.rows.get(r.host) != r for r in rows):
        return decide.RecordMembers(f"record the revisions of {', '.join(r.host for r in rows)}", rows)
    outdated = [m for m in _local(roster, observed) if m.host in view.pods and not view.pods[m.host].updated]
    if not outdated:
        return None
    unsafe = unsafe_to_restart(roster, observed)
    if unsafe:
        return decide.Noop(f"not restarting {outdated[0].host} while {unsafe}")
    secondaries = [m for m in outdated if m.host != observed.primary]
    if secondaries:
        member = max(secondaries, key=lambda m: (view.pods[m.host].ordinal, m.host))
        pod = view.pods[member.host]
        return decide.ClaimRestart(f"claim the restart slot for {member.host} (pod {pod.name}, revision "
                                   f"{pod.revision} -> {pod.update_revision})",
                                   decide.Claim(member.host, roster.this_cluster, pod.update_revision))
    behind = [m.host for m in observed.config if m.host != observed.primary and not updated(m, roster, observed)]
    if behind:
        return decide.Noop(f"the primary {observed.primary} restarts last: waiting for {', '.join(behind)} to run "
                           "the current pod template")
    return _step_down(observed, observed.primary, "before its restart (the primary restarts last)")


def _finish(roster: decide.Roster, observed: decide.Observed, claim: decide.Claim) -> decide.Action:
    """The claim held: restart its member, wait for it, release it; or wait for the cluster that holds it."""
    hosts = {m.host for m in observed.config}
    if claim.host not in hosts:  # its member left the set (a lost cluster): it takes no part any more
        return decide.ReleaseRestart(f"release the restart slot of {claim.host}: it is no longer in the "
                                     "configuration", claim)
    if claim.cluster != roster.this_cluster:
        return decide.Noop(f"waiting: cluster {claim.cluster} restarts {claim.host} (one member of the set at a "
                           "time)")
    pod = observed.rollout.pods.get(claim.host)
    if pod is None:
        return decide.Noop(f"holding the restart slot for {claim.host}: waiting for its pod")
    if not pod.updated:  # not restarted yet (or claimed just before a reconciler restart)
        if claim.host == observed.primary:
            return _step_down(observed, claim.host, "before its restart")
        unsafe = unsafe_to_restart(roster, observed)
        if unsafe:
            return decide.Noop(f"holding the restart slot for {claim.host}; not restarting it while {unsafe}")
        return decide.RestartMember(f"restart {claim.host}: delete pod {pod.name} (revision {pod.revision}); its "
                                    f"StatefulSet recreates it at {pod.update_revision}", claim.host, pod.name,
                                    pod.uid)
    state = observed.states.get(claim.host, "")
    lag = observed.lag_seconds.get(claim.host, 0)
    if state in RESTARTED_STATES and lag <= roster.max_lag_seconds:
        return decide.ReleaseRestart(f"release the restart slot: {claim.host} is {state} on revision "
                                     f"{pod.revision}, {lag} s behind", claim)
    now = f"{state or 'unknown'}, {lag} s behind" if state in RESTARTED_STATES else (state or "unknown")
    return decide.Noop(f"waiting for {claim.host} to come back SECONDARY and catch up after its restart "
                       f"(now {now})")


def _step_down(observed: decide.Observed, host: str, why: str) -> decide.Action:
    primary = next(m for m in observed.config if m.host == host)
    return decide._step_down(primary, observed, why)


def template_pending(roster: decide.Roster, observed: decide.Observed) -> str:
    """Which local StatefulSet does not carry the roster's template hash yet or is not observed by its
    controller, "" when every one does (only then is ``updateRevision`` the current template's)."""
    local = roster.local()
    wanted = {name for name, needed in (
        ("", any(not m.arbiter_only for m in local)), ("-arbiter", any(m.arbiter_only for m in local))) if needed}
    found = {w.name: w for w in observed.rollout.workloads}
    for suffix in sorted(wanted):
        name = (roster.statefulset or roster.name) + suffix
        workload = found.get(name)
        if workload is None:
            return f"StatefulSet {name} (not found here yet)"
        if workload.template_hash != roster.template_hash:
            return (f"StatefulSet {name} to carry pod template {roster.template_hash} "
                    f"(it has {workload.template_hash or 'none'})")
        if not workload.observed:
            return f"the StatefulSet controller to observe {name}"
    return ""


def unsafe_to_restart(roster: decide.Roster, observed: decide.Observed) -> str:
    """Why no member may go down now ("" when every gate on health, lag and version holds). The version gate
    (:func:`reconciler.versions.restart_blocker`): a member restarts onto ``roster.version`` only when the
    observed featureCompatibilityVersion is that release or the one before (FCV first on a downgrade)."""
    if not observed.primary:
        return "the set has no primary"
    blocked = versions.restart_blocker(roster, observed)
    if blocked:
        return f"waiting: {blocked}"
    for member in observed.config:
        state = observed.states.get(member.host, "")
        if state not in HEALTHY_STATES:
            return f"{member.host} is {state or 'unknown'}"
    for member in observed.config:
        lag = observed.lag_seconds.get(member.host, 0)
        if not member.arbiter_only and lag > roster.max_lag_seconds:
            return f"{member.host} is {lag} s behind the primary (at most {roster.max_lag_seconds})"
    return ""


def updated(member: decide.Member, roster: decide.Roster, observed: decide.Observed) -> bool:
    """Whether ``member`` runs the current pod template: its pod here, else its cluster's row for this hash."""
    pod = observed.rollout.pods.get(member.host)
    if member.cluster == roster.this_cluster or pod is not None:
        return pod is not None and pod.updated
    row = observed.rollout.rows.get(member.host)
    return row is not None and row.updated and row.template_hash == roster.template_hash


def local_rows(roster: decide.Roster, observed: decide.Observed) -> tuple[decide.Row, ...]:
    """This cluster's ``fedrender.rollout`` rows: each local member's revision, whether it is updated, the
    template hash it was judged against and its mongod version (the last known while it does not answer)."""
    view = observed.rollout
    rows = []
    for member in _local(roster, observed):
        pod = view.pods.get(member.host)
        if pod is None:
            continue
        old = view.rows.get(member.host)
        version = observed.binaries.get(member.host) or (old.version if old else "")
        rows.append(decide.Row(member.host, roster.this_cluster, pod.revision, pod.updated, roster.template_hash,
                               version))
    return tuple(rows)


def _local(roster: decide.Roster, observed: decide.Observed) -> list[decide.Member]:
    """Local roster members in the configuration that are not leaving (leaving members are never restarted)."""
    hosts = {m.host for m in observed.config}
    return [m for m in roster.local() if not m.leaving and m.host in hosts]
