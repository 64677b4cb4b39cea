"""The simulators' rolling-restart rules, each its own test, so that their strictness itself can fail: what
mongod (src/mongo/db/repl/replset_commands.cpp, replication_coordinator_impl.cpp, jstests/replsets/stepdown*.js)
and the API server (apiserver storage preconditions, the StatefulSet controller) would refuse or do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException
from pymongo import MongoClient
from pymongo.errors import NotPrimaryError, OperationFailure

from reconciler.decide import Member
from tests.kubesim import KubeSim
from tests.mongosim import Simulator
from tests.test_reconciler_kube import kube, mrs
from tests.test_reconciler_wire import ROOT, members, reconcile
from tests.test_rollout_wire import member_pod, statefulset


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, list[Member]]]:
    simulator = Simulator("db")
    clock = [0.0]
    simulator.rs.clock = lambda: clock[0]
    roster = members(simulator, "a", "b", "c")
    simulator.rs.clock = None  # converge by status reads, then run on a clock that stands still
    reconcile(simulator, roster, "abc", init="a")
    simulator.rs.clock = lambda: clock[0]
    yield simulator, roster
    simulator.stop()


def root(host: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(f"mongodb://{host}/", directConnection=True, username=ROOT[0], password=ROOT[1],
                       authMechanism="SCRAM-SHA-256", serverSelectionTimeoutMS=400)


def refused(host: str, *args: Any, db: str = "admin", **kwargs: Any) -> OperationFailure:
    with root(host) as client, pytest.raises(OperationFailure) as failure:
        client[db].command(*args, **kwargs)
    return failure.value


def test_the_simulator_refuses_a_step_down_not_longer_than_the_catch_up_period(sim: Any) -> None:
    mongo, roster = sim
    error = refused(roster[0].host, "replSetStepDown", 10)  # secondaryCatchUpPeriodSecs defaults to 10
    assert (error.code, str(error).split(",")[0]) == (2, "stepdown period must be longer than "
                                                         "secondaryCatchUpPeriodSecs")
    assert refused(roster[0].host, "replSetStepDown", 30, secondaryCatchUpPeriodSecs=45).code == 2
    assert mongo.rs.primary == roster[0].host


def test_the_simulator_refuses_a_step_down_without_a_caught_up_secondary(sim: Any) -> None:
    mongo, roster = sim
    mongo.rs.lag = {roster[1].host: 3, roster[2].host: 1}
    error = refused(roster[0].host, "replSetStepDown", 60)
    assert error.code == 262
    assert "No electable secondaries caught up" in str(error)
    mongo.rs.lag = {roster[1].host: 3}
    with root(roster[0].host) as client:
        assert client.admin.command("replSetStepDown", 60)["ok"] == 1  # 4.2+: the connection stays open
    assert mongo.rs.primary == roster[2].host


def test_the_simulator_refuses_a_forced_step_down_and_records_it(sim: Any) -> None:
    mongo, roster = sim
    assert refused(roster[0].host, "replSetStepDown", 60, force=True).code == 2
    assert mongo.rs.violations == [f"replSetStepDown with force on {roster[0].host}"]
    assert mongo.rs.primary == roster[0].host


def test_the_simulator_refuses_to_elect_a_stepped_down_primary_for_step_down_secs(sim: Any) -> None:
    mongo, roster = sim
    with root(roster[0].host) as client:
        client.admin.command("replSetStepDown", 60)
    assert mongo.rs.primary == roster[1].host
    mongo.take_down(roster[1].host)  # the new primary is lost at once: the old one may not stand yet
    assert mongo.rs.primary == roster[2].host
    mongo.take_down(roster[2].host)
    assert mongo.rs.primary == ""  # no majority anyway; and frozen
    mongo.rs.down.discard(roster[2].host)
    mongo.rs.frozen[roster[2].host] = 0
    mongo.rs.clock = lambda: 61.0
    assert mongo.elect() == roster[0].host  # 60 s later it is electable again (highest priority)


def test_the_simulator_records_a_primary_restarted_without_a_step_down(sim: Any) -> None:
    mongo, roster = sim
    mongo.restart(roster[0].host, "7.0.15")
    assert mongo.rs.violations == [f"restarted the primary {roster[0].host} without stepping it down first"]


def test_the_simulator_records_two_members_down_at_once(sim: Any) -> None:
    mongo, roster = sim
    mongo.restart(roster[2].host)
    mongo.restart(roster[1].host)
    assert mongo.rs.violations == [f"restarted {roster[1].host} while {roster[2].host} is down: two members down "
                                   "at once"]


def test_the_simulator_records_a_restart_while_a_member_lags_or_is_unhealthy(sim: Any) -> None:
    mongo, roster = sim
    mongo.rs.lag[roster[1].host] = 11
    mongo.restart(roster[2].host)
    assert mongo.rs.violations == [f"restarted {roster[2].host} while {roster[1].host} is 11 s behind"]
    mongo.rs.violations.clear()
    mongo.rs.lag.clear()
    mongo.rs.down.discard(roster[2].host)
    mongo.rs.syncing[roster[2].host] = 5.0
    mongo.restart(roster[1].host)
    assert mongo.rs.violations == [f"restarted {roster[1].host} while {roster[2].host} is not healthy (STARTUP2)"]


def test_the_simulator_brings_a_restarted_member_back_through_startup2_with_its_new_version(sim: Any) -> None:
    mongo, roster = sim
    mongo.rs.clock = lambda: now[0]
    now = [0.0]
    mongo.restart(roster[2].host, "7.0.15")
    states = []
    for moment in (0.0, 6.0, 6.0):
        now[0] = moment
        mongo.rs.initial_sync_seconds = 3.0
        with root(roster[0].host) as client:
            rows = client.admin.command("replSetGetStatus")["members"]
        states.append(next(r["stateStr"] for r in rows if r["name"] == roster[2].host))
    now[0] = 10.0
    with root(roster[0].host) as client:
        rows = client.admin.command("replSetGetStatus")["members"]
    states.append(next(r["stateStr"] for r in rows if r["name"] == roster[2].host))
    assert states == ["(not reachable/healthy)", "STARTUP2", "STARTUP2", "SECONDARY"]
    with MongoClient(f"mongodb://{roster[2].host}/", directConnection=True) as anonymous:
        assert anonymous.admin.command("buildInfo")["version"] == "7.0.15"
    assert mongo.rs.violations == []


def test_the_simulator_refuses_the_rollout_collection_off_the_primary(sim: Any) -> None:
    mongo, roster = sim
    requests: dict[str, dict[str, Any]] = {"find": {}, "insert": {"documents": [{"_id": "restart"}]},
                                           "update": {"updates": [{"q": {"_id": "h"}, "u": {}, "upsert": True}]},
                                           "delete": {"deletes": [{"q": {}, "limit": 1}]}}
    for command, kwargs in requests.items():
        with root(roster[1].host) as client, pytest.raises(NotPrimaryError) as failure:
            client.fedrender.command(command, "rollout", writeConcern={"w": "majority"}, **kwargs)
        assert (failure.value.details or {}).get("code") == 10107
    assert mongo.rs.rollout == {}


def test_the_simulator_refuses_a_second_restart_claim_with_11000(sim: Any) -> None:
    mongo, roster = sim
    with root(roster[0].host) as client:
        db = client.fedrender
        first = db.command("insert", "rollout", documents=[{"_id": "restart", "cluster": "a"}],
                           writeConcern={"w": "majority"})
        second = db.command("insert", "rollout", documents=[{"_id": "restart", "cluster": "b"}],
                            writeConcern={"w": "majority"})
    assert first["n"] == 1
    assert second["writeErrors"][0]["code"] == 11000
    assert mongo.rs.rollout["restart"]["cluster"] == "a"
    assert mongo.rs.violations == []


def test_the_simulator_records_a_rollout_write_without_majority(sim: Any) -> None:
    mongo, roster = sim
    with root(roster[0].host) as client:
        client.fedrender.command("insert", "rollout", documents=[{"_id": "restart"}])
    assert [v.split(":")[0] for v in mongo.rs.violations] == ["a fedrender.rollout write without w"]


# --- the Kubernetes API emulator


@pytest.fixture
def api() -> Iterator[KubeSim]:
    server = KubeSim()
    server.put_object(mrs("db", []))
    server.statefulsets[("team", "db")] = statefulset("db", "a", "h2", 2)
    server.pods["team"] = [member_pod("db-0", "uid-0", "db-a-h1"), member_pod("db-1", "uid-1", "db-a-h1")]
    yield server
    server.stop()


def test_the_simulator_refuses_a_pod_delete_with_another_uid(api: KubeSim) -> None:
    with pytest.raises(ApiException) as conflict:
        kube(api).delete_pod(api.objects[("team", "db")], "db-1", "uid-of-an-older-pod")
    assert conflict.value.status == 409
    assert "Precondition failed: UID in precondition: uid-of-an-older-pod, UID in object meta: uid-1" in str(
        conflict.value.body)
    assert api.deleted == []
    with pytest.raises(ApiException) as missing:
        kube(api).delete_pod(api.objects[("team", "db")], "db-7", "uid-7")
    assert missing.value.status == 404


def test_the_simulator_recreates_a_deleted_pod_at_the_update_revision(api: KubeSim) -> None:
    recreated: list[dict[str, Any]] = []
    api.on_pod_recreated = lambda _ns, pod: recreated.append(pod)
    k = kube(api)
    k.delete_pod(api.objects[("team", "db")], "db-1", "uid-1")
    assert api.deleted == ["db-1"]
    pod = next(p for p in api.pods["team"] if p["metadata"]["name"] == "db-1")
    assert pod["metadata"]["uid"] != "uid-1"
    assert pod["metadata"]["labels"]["controller-revision-hash"] == "db-a-h2"
    assert recreated == [pod]
    with pytest.raises(ApiException) as stale:  # the old decision cannot delete the new pod
        k.delete_pod(api.objects[("team", "db")], "db-1", "uid-1")
    assert stale.value.status == 409


def test_the_kube_adapter_reads_statefulsets_and_pod_revisions(api: KubeSim) -> None:
    obj = mrs("db", [{"_id": 0, "host": "h:0", "cluster": "a", "ordinal": 0},
                     {"_id": 1, "host": "h:1", "cluster": "a", "ordinal": 1},
                     {"_id": 2, "host": "h:2", "cluster": "b", "ordinal": 0}])
    k = kube(api)
    workloads = k.statefulsets(obj)
    assert [(w.name, w.template_hash, w.update_revision, w.observed) for w in workloads] == [
        ("db", "h2", "db-a-h2", True)]  # no arbiter StatefulSet here: 404 is "not here"
    pods = k.pods(obj, workloads)
    assert {h: (p.name, p.uid, p.revision, p.updated, p.ordinal) for h, p in pods.items()} == {
        "h:0": ("db-0", "uid-0", "db-a-h1", False, 0), "h:1": ("db-1", "uid-1", "db-a-h1", False, 1)}
