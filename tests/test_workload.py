"""The workload a MongoDB operator would render (issue 13, part 1): probes that never restart a member in initial
sync or recovery, a grace period for mongod's clean shutdown, members kept off each other's nodes and spread over
zones, volume claim templates as the API server returns them, and a PodDisruptionBudget per cluster.

Probes run for real: the rendered command, under bash, against a MockupDB server answering ``hello`` as mongod
does in each replica-set state."""

from __future__ import annotations

import copy
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mockupdb import MockupDB

from fedrender.pipeline.preview import preview
from fedrender.pipeline.render import Inputs, render
from tests.conftest import CLUSTERS, ROOT, run
from tests.refusal import mongodb
from tests.test_render import validate_object

RENDERS = settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])
SETTING = settings(RENDERS, max_examples=3)
TOLERATE_US = {"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "databases",
                                "effect": "NoSchedule"}]}
"""Makes member-us-1 (tainted dedicated=databases:NoSchedule) eligible: three clusters with the example snapshot."""


def render_objects(*specs: dict[str, Any], values: dict[str, Any] | None = None,
                   clusters: list[dict[str, Any]] | None = None) -> dict[str, bytes]:
    """The files render would write for ``specs``, with an overlay of ``values`` and the example snapshot (or
    ``clusters``)."""
    with tempfile.TemporaryDirectory(prefix="fedrender-workload-") as tmp:
        root = Path(tmp)
        (root / "specs.yaml").write_text(yaml.safe_dump_all(list(specs)), encoding="utf-8")
        snapshot = CLUSTERS
        if clusters is not None:
            snapshot = root / "clusters.yaml"
            snapshot.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": clusters}))
        overlays = []
        if values is not None:
            (root / "overlay").mkdir()
            (root / "overlay" / "values.yaml").write_text(yaml.safe_dump({"values": values}), encoding="utf-8")
            overlays.append(root / "overlay")
        return render(Inputs([root / "specs.yaml"], snapshot, None, overlays)).files


def find(files: dict[str, bytes], kind: str, name: str) -> dict[str, Any]:
    for path, content in files.items():
        if path.endswith(f"/{kind.lower()}-{name}.yaml"):
            found: dict[str, Any] = yaml.safe_load(content)
            return found
    raise AssertionError(f"no {kind} {name} in {sorted(files)}")


def pod_spec(statefulset: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = statefulset["spec"]["template"]["spec"]
    return spec


def mongod(statefulset: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod_spec(statefulset)["containers"] if c["name"] == "mongod")


@pytest.fixture(scope="module")
def with_arbiter() -> dict[str, bytes]:
    """Four data members on three clusters and an arbiter, in the instance shop/db."""
    return render_objects(mongodb({"name": "db", "namespace": "shop"}, replicaset=4, config={"arbiter": True},
                                  scheduler=TOLERATE_US))


# --- probes ------------------------------------------------------------------------------------------------

HELLO = {
    "PRIMARY": {"isWritablePrimary": True, "secondary": False, "setName": "db"},
    "SECONDARY": {"isWritablePrimary": False, "secondary": True, "setName": "db"},
    "ARBITER": {"isWritablePrimary": False, "secondary": False, "arbiterOnly": True, "setName": "db"},
    "STARTUP2": {"isWritablePrimary": False, "secondary": False, "setName": "db"},
    "RECOVERING": {"isWritablePrimary": False, "secondary": False, "setName": "db"},
    "ROLLBACK": {"isWritablePrimary": False, "secondary": False, "setName": "db"},
    "not initiated": {"isWritablePrimary": False, "secondary": False, "isreplicaset": True,
                      "info": "Does not have a valid replica set config"},
}
"""What mongod's ``hello`` says in each state (MongoDB manual, hello command; replica-set member states).
STARTUP2, RECOVERING and ROLLBACK look alike: a set member neither primary, secondary nor arbiter."""
SERVING = {"PRIMARY", "SECONDARY", "ARBITER", "not initiated"}


def run_probe(command: list[str], port: int) -> int:
    """Run a rendered exec probe against 127.0.0.1:``port`` instead of 27017; its exit code."""
    assert command[:2] == ["bash", "-c"], command
    assert command[-1] == "27017", command
    return subprocess.run([*command[:-1], str(port)], capture_output=True, timeout=30, check=False).returncode


class FakeMongod:
    """A MockupDB server that answers ``hello`` (only ``hello``: a malformed request gets no answer) as a mongod in
    ``state`` does, ok as the double mongod sends."""

    def __init__(self) -> None:
        self.state = "PRIMARY"
        self.server = MockupDB(auto_ismaster=False)
        self.server.autoresponds("hello", lambda request: request.replies(ok=1.0, maxWireVersion=25,
                                                                          **HELLO[self.state]))
        self.port = self.server.run()


@pytest.fixture(scope="module")
def fake_mongod() -> Iterator[FakeMongod]:
    fake = FakeMongod()
    try:
        yield fake
    finally:
        fake.server.stop()


@contextmanager
def hangs_up() -> Iterator[int]:
    """A port that accepts a connection and closes it without a word (a wedged or overloaded mongod)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


@pytest.mark.parametrize("state", sorted(HELLO))
def test_probes_restart_no_member_that_answers_and_ready_only_serving_ones(
        with_arbiter: dict[str, bytes], fake_mongod: FakeMongod, state: str) -> None:
    fake_mongod.state = state
    for which in ("db", "db-arbiter"):
        container = mongod(find(with_arbiter, "StatefulSet", which))
        assert run_probe(container["startupProbe"]["exec"]["command"], fake_mongod.port) == 0
        assert run_probe(container["livenessProbe"]["exec"]["command"], fake_mongod.port) == 0, \
            f"liveness would restart {which} in {state}"
        ready = run_probe(container["readinessProbe"]["exec"]["command"], fake_mongod.port) == 0
        assert ready is (state in SERVING), (which, state)


@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_probes_fail_when_mongod_does_not_answer(with_arbiter: dict[str, bytes], probe: str) -> None:
    command = mongod(find(with_arbiter, "StatefulSet", "db"))[probe]["exec"]["command"]
    with hangs_up() as port:
        assert run_probe(command, port) == 1
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert run_probe(command, port) == 1


def restart_after(container: dict[str, Any]) -> int:
    """Seconds from a container's start until Kubernetes restarts it if mongod never answers: the startup probe's
    budget when there is one (liveness waits for it), else the liveness probe's (failureThreshold default 3)."""
    probe = container.get("startupProbe") or container["livenessProbe"]
    return int(probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3))


def test_crash_recovery_gets_hours_before_a_restart(with_arbiter: dict[str, bytes]) -> None:
    """The issue: liveness (30 s + 3 x 20 s) killed mongod after about 90 s of crash recovery."""
    for name in ("db", "db-arbiter"):
        container = mongod(find(with_arbiter, "StatefulSet", name))
        assert restart_after(container) >= 7200
        liveness = container["livenessProbe"]
        assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 120  # two minutes without an answer
        assert liveness["timeoutSeconds"] >= 10  # the probe's own reads give up after 5 s each


@SETTING
@given(seconds=st.integers(60, 604800))
@example(seconds=60)
@example(seconds=604800)
def test_the_startup_budget_is_a_setting(seconds: int) -> None:
    files = render_objects(mongodb(), values={"mongodb": {"startupSeconds": seconds}})
    budget = restart_after(mongod(find(files, "StatefulSet", "orders")))
    assert seconds <= budget < seconds + 10


# --- shutdown ----------------------------------------------------------------------------------------------

def test_termination_grace_covers_a_clean_shutdown(with_arbiter: dict[str, bytes]) -> None:
    assert pod_spec(find(with_arbiter, "StatefulSet", "db"))["terminationGracePeriodSeconds"] == 600
    assert pod_spec(find(with_arbiter, "StatefulSet", "db-arbiter"))["terminationGracePeriodSeconds"] == 30


@SETTING
@given(seconds=st.integers(30, 86400))
@example(seconds=30)
@example(seconds=86400)
def test_termination_grace_is_a_setting(seconds: int) -> None:
    files = render_objects(mongodb(), values={"mongodb": {"terminationGracePeriodSeconds": seconds}})
    assert pod_spec(find(files, "StatefulSet", "orders"))["terminationGracePeriodSeconds"] == seconds


# --- scheduling inside a cluster ---------------------------------------------------------------------------

OURS = {"topologyKey": "kubernetes.io/hostname",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "mongodb", "app.kubernetes.io/instance": "orders"}}}

match_expression = st.fixed_dictionaries({"key": st.sampled_from(["disk", "example.com/pool"]),
                                          "operator": st.sampled_from(["In", "NotIn"]),
                                          "values": st.lists(st.sampled_from(["ssd", "a", "b"]), min_size=1,
                                                             max_size=2)})
node_term = st.fixed_dictionaries({"matchExpressions": st.lists(match_expression, min_size=1, max_size=2)})
pod_term = st.fixed_dictionaries({"topologyKey": st.sampled_from(["kubernetes.io/hostname", "rack"]),
                                  "labelSelector": st.fixed_dictionaries({"matchLabels": st.dictionaries(
                                      st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]), min_size=1)})})
weighted_pod = st.fixed_dictionaries({"weight": st.integers(1, 100), "podAffinityTerm": pod_term})
pod_affinity = st.fixed_dictionaries({}, optional={
    "preferredDuringSchedulingIgnoredDuringExecution": st.lists(weighted_pod, min_size=1, max_size=2),
    "requiredDuringSchedulingIgnoredDuringExecution": st.lists(pod_term, min_size=1, max_size=2)})
affinity = st.fixed_dictionaries({}, optional={
    "nodeAffinity": st.fixed_dictionaries({}, optional={
        "preferredDuringSchedulingIgnoredDuringExecution": st.lists(
            st.fixed_dictionaries({"weight": st.integers(1, 100), "preference": node_term}), min_size=1, max_size=2),
        "requiredDuringSchedulingIgnoredDuringExecution": st.fixed_dictionaries(
            {"nodeSelectorTerms": st.lists(node_term, min_size=1, max_size=2)})}),
    "podAffinity": pod_affinity,
    "podAntiAffinity": pod_affinity})


def expected_affinity(user: dict[str, Any], mode: str) -> dict[str, Any]:
    """The spec's affinity with this instance's anti-affinity term added to the list ``mode`` names."""
    out = copy.deepcopy(user)
    anti = out.setdefault("podAntiAffinity", {})
    if mode == "preferred":
        anti.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
            {"weight": 100, "podAffinityTerm": OURS})
    else:
        anti.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(OURS)
    return out


@RENDERS
@given(user=affinity, mode=st.sampled_from(["preferred", "required"]),
       toleration_seconds=st.integers(0, 2**40))
def test_the_spec_affinity_is_kept_and_members_keep_off_each_others_nodes(
        user: dict[str, Any], mode: str, toleration_seconds: int) -> None:
    """Every term of spec.scheduler.affinity survives, numbers as numbers (weights, tolerationSeconds are
    integers the API server would refuse as strings), and the instance's own term is added."""
    scheduler = {"affinity": user, "tolerations": [
        {"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": toleration_seconds}]}
    files = render_objects(mongodb(replicaset=2, config={"arbiter": True}, scheduler=scheduler),
                           values={"mongodb": {"podAntiAffinity": mode}})
    for name in ("orders", "orders-arbiter"):
        statefulset = find(files, "StatefulSet", name)
        assert pod_spec(statefulset)["affinity"] == expected_affinity(user, mode)
        assert pod_spec(statefulset)["tolerations"][0]["tolerationSeconds"] == toleration_seconds
        validate_object(statefulset)


def test_anti_affinity_is_preferred_by_default(with_arbiter: dict[str, bytes]) -> None:
    for name in ("db", "db-arbiter"):
        anti = pod_spec(find(with_arbiter, "StatefulSet", name))["affinity"]["podAntiAffinity"]
        assert anti == {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
            "topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {
                "app.kubernetes.io/name": "mongodb", "app.kubernetes.io/instance": "db"}}}}]}


def zoneless(name: str) -> list[dict[str, Any]]:
    """The example snapshot with the Karmada Cluster ``name`` listing no zones."""
    items: list[dict[str, Any]] = yaml.safe_load(CLUSTERS.read_text())["items"]
    for item in items:
        if item["metadata"]["name"] == name:
            item["spec"].pop("zones", None)
            item["spec"].pop("zone", None)
    return items


def test_members_spread_over_the_zones_of_clusters_that_have_several() -> None:
    files = render_objects(mongodb(replicaset=4, config={"arbiter": True}, scheduler=TOLERATE_US),
                           clusters=zoneless("member-eu-2"))
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
               "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "mongodb",
                                                 "app.kubernetes.io/instance": "orders"}}}]
    seen = set()
    for cluster in ("member-eu-1", "member-eu-2", "member-us-1"):
        for _, received in preview(files, cluster).objects:
            if received["kind"] == "StatefulSet":
                seen.add((cluster, received["metadata"]["name"]))
                assert pod_spec(received).get("topologySpreadConstraints") == (
                    None if cluster == "member-eu-2" else spread), cluster
                validate_object(received)
    assert {name for _, name in seen} == {"orders", "orders-arbiter"}


def test_volume_claim_templates_carry_their_type(with_arbiter: dict[str, bytes]) -> None:
    """argoproj/argo-cd#11143: the API server returns apiVersion and kind in every claim template; without them in
    Git, Argo CD shows the StatefulSet OutOfSync forever. Both shipped packs write them."""
    redis = yaml.safe_load((ROOT / "examples" / "specs" / "redis-cache.yaml").read_text())
    for statefulset in (find(with_arbiter, "StatefulSet", "db"), find(render_objects(redis), "StatefulSet", "cache")):
        claims = statefulset["spec"]["volumeClaimTemplates"]
        assert claims
        assert all(c["apiVersion"] == "v1" and c["kind"] == "PersistentVolumeClaim" for c in claims)


@pytest.mark.parametrize("field", ["apiVersion", "kind"])
def test_a_pack_whose_claim_templates_lack_their_type_is_refused(tmp_path: Path, field: str) -> None:
    """Any pack: the rendered StatefulSet is refused at the template's line, with the line to add."""
    pack = tmp_path / "rules" / "mongodb"
    shutil.copytree(ROOT / "rules" / "mongodb", pack)
    template = pack / "templates" / "statefulset.yaml"
    without = {"apiVersion": ("    - apiVersion: v1\n      kind:", "    - kind:"),
               "kind": ("      kind: PersistentVolumeClaim\n", "")}[field]
    text = template.read_text()
    assert without[0] in text
    template.write_text(text.replace(*without))
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(mongodb()))
    result = run(["render", "--rules", str(tmp_path / "rules"), "--specs", str(spec), "--clusters", str(CLUSTERS),
                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    value = {"apiVersion": "v1", "kind": "PersistentVolumeClaim"}[field]
    assert re.search(rf"statefulset.yaml:\d+:\d+: error: spec.volumeClaimTemplates\[0\](.{field})?: .*"
                     rf"{field} must be '{value}'.*write {field}: {value}", result.stderr), result.stderr
    assert not (tmp_path / "out").exists()


# --- disruptions -------------------------------------------------------------------------------------------

def placement_of(files: dict[str, bytes], instance: str) -> dict[str, int]:
    state = yaml.safe_load(files[".fedrender/state.json"])
    found: dict[str, int] = state["instances"][instance]["placement"]
    return found


def test_one_budget_per_instance_in_every_cluster_with_members(with_arbiter: dict[str, bytes]) -> None:
    budget = find(with_arbiter, "PodDisruptionBudget", "db")
    validate_object(budget)
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "mongodb", "app.kubernetes.io/instance": "db"}}}
    placement = placement_of(with_arbiter, "shop/db")
    assert len(placement) == 3
    for cluster in ("member-ap-1", "member-ap-2", "member-eu-1", "member-eu-2", "member-us-1"):
        received = {(o["kind"], o["metadata"]["name"]): o for _, o in preview(with_arbiter, cluster).objects}
        assert (("PodDisruptionBudget", "db") in received) is (cluster in placement), cluster
        selector = budget["spec"]["selector"]["matchLabels"]
        for name in ("db", "db-arbiter"):  # the arbiter's vote counts against the same budget
            if ("StatefulSet", name) in received:
                labels = received["StatefulSet", name]["spec"]["template"]["metadata"]["labels"]
                assert selector.items() <= labels.items()
    other = find(render_objects(mongodb({"name": "dbx", "namespace": "shop"})), "StatefulSet", "dbx")
    assert not selector.items() <= other["spec"]["template"]["metadata"]["labels"].items()


def evictions_allowed(budget: dict[str, Any], pods: int, down: int) -> int:
    """Kubernetes' disruption controller for an integer maxUnavailable (pkg/controller/disruption: expectedCount
    from the pods' controllers, desiredHealthy = expectedCount - maxUnavailable, disruptionsAllowed =
    currentHealthy - desiredHealthy)."""
    return max(0, (pods - down) - (pods - int(budget["spec"]["maxUnavailable"])))


@st.composite
def no_majority(draw: st.DrawFn) -> list[int]:
    """Voters per cluster over at least three clusters, none holding a majority (what placement guarantees)."""
    counts = draw(st.lists(st.integers(1, 3), min_size=3, max_size=5))
    voters = sum(counts)
    if voters > 7 or any(2 * c >= voters + (voters % 2 == 0) for c in counts):
        counts = [1, 1, 1]
    return counts


@settings(deadline=None, max_examples=300)
@given(counts=no_majority(), data=st.data())
def test_draining_one_cluster_keeps_a_majority_with_failures_to_spare(with_arbiter: dict[str, bytes],
                                                                      counts: list[int], data: st.DataObject) -> None:
    """Drain every node of one cluster (evicted members stay down until the drain ends) while members of other
    clusters are already down, as many as the set tolerates but one. The rendered budget lets the drain take one
    member at a time, so a majority of voters always remains. (A budget of a whole cluster would not: with 5 voters
    as 2-2-1 and one down elsewhere, draining a cluster of 2 would leave 2 of 5.)"""
    budget = find(with_arbiter, "PodDisruptionBudget", "db")
    voters = sum(counts)
    tolerated = (voters - 1) // 2
    drained = data.draw(st.integers(0, len(counts) - 1))
    elsewhere = sum(c for i, c in enumerate(counts) if i != drained)
    down_elsewhere = data.draw(st.integers(0, min(tolerated - 1, elsewhere)))
    down_here = 0
    for _ in range(counts[drained]):  # each node of the cluster, one after the other
        if evictions_allowed(budget, counts[drained], down_here) > 0:
            down_here += 1
    assert down_here == 1  # one member goes; the drain waits until it is Ready again elsewhere
    assert voters - down_here - down_elsewhere > voters // 2
