"""The rolling restart's pure decisions (reconciler/rollout.py through decide.next_action): the safety
properties over generated sets, and the order on examples."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.decide import (
    USERS,
    Action,
    Claim,
    ClaimRestart,
    Member,
    Noop,
    Observed,
    Pod,
    RecordMembers,
    ReleaseRestart,
    RestartMember,
    Rollout,
    Roster,
    Row,
    StepDown,
    Workload,
    next_action,
)
from reconciler.rollout import local_rows
from reconciler.status import build_status

CLUSTERS = "abcab"
MEMBERS = tuple(Member(i, f"{c}:{i}", 1, 2.0 if i == 0 else 1.0, cluster=c) for i, c in enumerate(CLUSTERS))
ORDINAL = {m.host: sum(o.cluster == m.cluster for o in MEMBERS[:m.id]) for m in MEMBERS}
STATES = ["SECONDARY", "SECONDARY", "SECONDARY", "STARTUP2", "RECOVERING", "ROLLBACK", "(not reachable/healthy)"]
RESTARTS = (ClaimRestart, RestartMember, StepDown, ReleaseRestart)


def pods(cluster: str, updated: dict[str, bool], members: tuple[Member, ...] = MEMBERS) -> dict[str, Pod]:
    return {m.host: Pod(f"db-{ORDINAL[m.host]}", f"uid-{m.host}", "r2" if updated.get(m.host) else "r1", "r2",
                        ORDINAL[m.host]) for m in members if m.cluster == cluster}


def world(cluster: str, *, updated: dict[str, bool] | None = None, states: dict[str, str] | None = None,
          lags: dict[str, int] | None = None, claim: Claim | None = None, primary: str = "a:0",
          members: tuple[Member, ...] = MEMBERS) -> tuple[Roster, Observed]:
    """A converged set of five members over a, b, c, seen from ``cluster``: the template hash h2 delivered, the
    pods at revision r2 where ``updated`` says so (r1 otherwise), rows recorded for every member."""
    updated = updated or {}
    roster = Roster("db", members, "a", cluster, template_hash="h2", statefulset="db")
    config = tuple(m for m in members if not m.leaving)
    seen = {m.host: "SECONDARY" for m in config} | {primary: "PRIMARY"} | (states or {})
    local = pods(cluster, updated, members)
    observed = Observed(config=config, config_version=9, primary=primary if seen.get(primary) == "PRIMARY" else "",
                        states=seen, users=frozenset(USERS), default_write_concern="majority",
                        lag_seconds=lags or {}, binaries=dict.fromkeys(local, "7.0.14"))
    rows = {m.host: Row(m.host, m.cluster, "r2" if updated.get(m.host) else "r1", bool(updated.get(m.host)), "h2",
                        "7.0.14") for m in members}
    view = Rollout(True, (Workload("db", "h2", "r2", True),), local, claim, rows)
    return roster, replace(observed, rollout=view)


def decide(roster: Roster, observed: Observed) -> Action:
    return next_action(roster, observed)


def target(action: Action) -> str:
    if isinstance(action, (ClaimRestart, ReleaseRestart)):
        return action.claim.host
    if isinstance(action, (RestartMember, StepDown)):
        return action.host
    return ""


HOSTS = [m.host for m in MEMBERS]
flags = st.fixed_dictionaries({h: st.booleans() for h in HOSTS})
clusters = st.sampled_from("abc")


@settings(max_examples=60, deadline=None)
@given(clusters, flags, st.fixed_dictionaries({h: st.sampled_from(STATES) for h in HOSTS[1:]}),
       st.fixed_dictionaries({h: st.integers(0, 30) for h in HOSTS}), st.booleans())
def test_never_claims_while_a_member_lags_or_is_unhealthy(cluster: str, updated: dict[str, bool],
                                                          states: dict[str, str], lags: dict[str, int],
                                                          held: bool) -> None:
    claim = Claim("b:1", "b", "r2") if held else None
    roster, observed = world(cluster, updated=updated, states=states, lags=lags, claim=claim)
    action = decide(roster, observed)
    if isinstance(action, (ClaimRestart, RestartMember)):
        assert all(observed.states[m.host] in {"PRIMARY", "SECONDARY", "ARBITER"} for m in observed.config)
        assert all(observed.lag_seconds.get(m.host, 0) <= roster.max_lag_seconds for m in observed.config)


@settings(max_examples=60, deadline=None)
@given(flags, st.booleans())
def test_the_primary_only_after_every_other_member_is_updated(updated: dict[str, bool], stepped: bool) -> None:
    # seen from the primary's cluster a; after a step-down the old primary a:0 is a SECONDARY (b:1 is primary)
    roster, observed = world("a", updated=updated, primary="b:1" if stepped else "a:0")
    action = decide(roster, observed)
    if target(action) == "a:0" and not isinstance(action, ReleaseRestart):
        others = [h for h in HOSTS if h != "a:0"]
        if not stepped:
            assert all(updated[h] for h in others), (action, updated)
            assert isinstance(action, StepDown)  # stepped down first, never restarted as the primary
    if isinstance(action, StepDown):
        assert all(updated[h] for h in HOSTS if h != observed.primary)


@settings(max_examples=60, deadline=None)
@given(clusters, st.sampled_from(HOSTS), flags)
def test_a_held_claim_blocks_every_other_cluster(cluster: str, claimed: str, updated: dict[str, bool]) -> None:
    holder = next(m.cluster for m in MEMBERS if m.host == claimed)
    roster, observed = world(cluster, updated=updated, claim=Claim(claimed, holder, "r2"))
    action = decide(roster, observed)
    if cluster != holder:
        assert isinstance(action, Noop), action
        assert f"cluster {holder} restarts {claimed}" in action.reason
    else:
        assert target(action) in ("", claimed), action


@settings(max_examples=60, deadline=None)
@given(clusters, st.fixed_dictionaries({h: st.booleans() for h in HOSTS[1:]}), flags)
def test_leaving_members_are_not_restarted(cluster: str, leaving: dict[str, bool], updated: dict[str, bool]) -> None:
    members = tuple(replace(m, votes=0, priority=0.0, leaving=True) if leaving.get(m.host) else m for m in MEMBERS)
    roster, observed = world(cluster, updated=updated, members=members)
    for _ in range(3):  # and after recording rows and claiming
        action = decide(roster, observed)
        assert not leaving.get(target(action), False), action
        if isinstance(action, RecordMembers):
            assert not any(leaving.get(r.host) for r in action.rows)
            observed = replace(observed, rollout=replace(observed.rollout, rows={
                **observed.rollout.rows, **{r.host: r for r in action.rows}}))
        elif isinstance(action, ClaimRestart):
            observed = replace(observed, rollout=replace(observed.rollout, claim=action.claim))
        else:
            break


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["b:1", "b:4"]), st.sampled_from([*STATES, "ARBITER"]), st.integers(0, 30), st.booleans())
def test_a_claim_is_never_released_while_its_host_is_down(host: str, state: str, lag: int, restarted: bool) -> None:
    roster, observed = world("b", updated={host: restarted}, states={host: state}, lags={host: lag},
                             claim=Claim(host, "b", "r2"))
    action = decide(roster, observed)
    if isinstance(action, ReleaseRestart):
        assert state in {"SECONDARY", "ARBITER"}
        assert lag <= roster.max_lag_seconds
        assert restarted
    else:
        assert "restart" in action.reason, action


# --- the order, on examples


def test_records_rows_first_then_claims_the_highest_ordinal_of_the_cluster() -> None:
    roster, observed = world("b")
    observed = replace(observed, rollout=replace(observed.rollout, rows={}))
    first = decide(roster, observed)
    assert isinstance(first, RecordMembers)
    assert first.rows == local_rows(roster, observed)
    roster, observed = world("b")
    action = decide(roster, observed)
    assert isinstance(action, ClaimRestart)
    assert action.claim == Claim("b:4", "b", "r2")  # db-1 before db-0
    claimed = replace(observed, rollout=replace(observed.rollout, claim=action.claim))
    restart = decide(roster, claimed)
    assert restart == RestartMember(restart.reason, "b:4", "db-1", "uid-b:4")


def test_the_primary_steps_down_only_when_the_others_run_the_new_template() -> None:
    others = {h: True for h in HOSTS if h != "a:0"}
    roster, observed = world("a", updated={**others, "a:3": False})
    assert isinstance(decide(roster, observed), ClaimRestart)  # a:3 first
    roster, observed = world("a", updated={**others, "c:2": False})
    waiting = decide(roster, observed)
    assert isinstance(waiting, Noop)
    assert "the primary a:0 restarts last: waiting for c:2" in waiting.reason
    roster, observed = world("a", updated=others)
    assert isinstance(decide(roster, observed), StepDown)


def test_nothing_moves_before_the_template_is_delivered_and_observed() -> None:
    roster, observed = world("b")
    for workload, why in [(Workload("db", "h1", "r2", True), "to carry pod template h2 (it has h1)"),
                          (Workload("db", "h2", "r2", False), "the StatefulSet controller to observe db")]:
        pending = replace(observed, rollout=replace(observed.rollout, workloads=(workload,)))
        action = decide(roster, pending)
        assert isinstance(action, Noop)
        assert why in action.reason


def test_without_a_template_hash_the_membership_decides_alone() -> None:
    roster, observed = world("b")
    assert isinstance(decide(replace(roster, template_hash=""), observed), Noop)
    assert isinstance(decide(roster, replace(observed, rollout=replace(observed.rollout, read=False))), Noop)


def test_a_claim_whose_member_left_the_configuration_is_released() -> None:
    roster, observed = world("c", claim=Claim("d:9", "d", "r2"))
    assert isinstance(decide(roster, observed), ReleaseRestart)


# --- the status a cluster reports (pure)


def test_observed_generation_only_once_the_template_is_delivered_and_observed() -> None:
    roster, observed = world("b", updated={"b:1": True})
    status = build_status(7, roster, observed, Noop("x"), "t")
    assert status["observedGeneration"] == 7
    assert (status["updateRevision"], status["updatedMembers"]) == ("r2", 1)
    local = {m["host"]: (m["cluster"], m["revision"], m["updated"], m["version"]) for m in status["members"]
             if "cluster" in m}
    assert local == {"b:1": ("b", "r2", True, "7.0.14"), "b:4": ("b", "r1", False, "7.0.14")}
    updated = next(c for c in status["conditions"] if c["type"] == "MembersUpdated")
    assert (updated["status"], updated["message"]) == ("False", "1 of 5 members run the current pod template")
    assert (status["phase"], next(c for c in status["conditions"] if c["type"] == "Ready")["reason"]) == (
        "Reconfiguring", "RollingUpdate")
    for workload in (Workload("db", "h1", "r2", True), Workload("db", "h2", "r2", False)):
        pending = replace(observed, rollout=replace(observed.rollout, workloads=(workload,)))
        assert "observedGeneration" not in build_status(7, roster, pending, Noop("x"), "t")


def test_the_member_under_restart_is_neither_lost_nor_syncing_until_its_deadline() -> None:
    roster, observed = world("b", states={"b:4": "(not reachable/healthy)"}, claim=Claim("b:4", "b", "r2"))
    status = build_status(7, roster, observed, Noop("waiting"), "t")
    updated = next(c for c in status["conditions"] if c["type"] == "MembersUpdated")
    assert updated["message"] == "0 of 5 members run the current pod template; restarting b:4"
    assert status["phase"] == "Reconfiguring"
    stuck = build_status(7, roster, observed, Noop("waiting"), "t", restart_stuck="b:4")
    ready = next(c for c in stuck["conditions"] if c["type"] == "Ready")
    assert (stuck["phase"], ready["reason"]) == ("Degraded", "RestartStuck")
    assert ready["message"].startswith("the restart of b:4 is stuck: it is (not reachable/healthy)")


def test_every_member_updated_is_ready() -> None:
    roster, observed = world("c", updated=dict.fromkeys(HOSTS, True))
    status = build_status(7, roster, observed, Noop("in sync"), "t")
    assert status["phase"] == "Ready"
    assert next(c for c in status["conditions"] if c["type"] == "MembersUpdated")["status"] == "True"
