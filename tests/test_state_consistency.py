"""A state file whose parts don't agree (a hand edit, a bad merge) is refused at its line, never a traceback:
each member's _id its own, at most one arbiter, placement counting the members per cluster, a cluster's
ordinals 0..n-1 each with a NodePort, _ids and numbers within what MongoDB and Kubernetes take."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models.diagnostics import InputError
from fedrender.pipeline.render import parse_state
from tests.conftest import CLUSTERS, SPECS, run

State = dict[str, Any]


def _first(state: State, key: str) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = state["instances"][key]["members"]
    return members


EDITS: dict[str, tuple[Callable[[State], None], str]] = {
    "an ordinal gap": (lambda s: _first(s, "identity/sessions")[1].update(ordinal=5), "pods are numbered 0 to"),
    "an _id past int32": (lambda s: _first(s, "identity/sessions")[1].update(id=2**63), "less than or equal"),
    "two arbiters": (lambda s: [m.update(arbiterOnly=True, priority=0) for m in _first(s, "shop/catalog")[:2]],
                     "more than one member is an arbiter"),
    "an arbiter with a priority": (lambda s: _first(s, "shop/catalog")[0].update(arbiterOnly=True),
                                   "an arbiter has votes 1 and priority 0"),
    "members moved by hand": (lambda s: [m.update(cluster="ghost") for m in _first(s, "shop/catalog")[:2]],
                              "does not count the members per cluster"),
    "members deleted": (lambda s: s["instances"]["shop/catalog"].update(members=_first(s, "shop/catalog")[2:]),
                        "does not count the members per cluster"),
    "a repeated _id": (lambda s: _first(s, "shop/catalog")[1].update(id=0), "member _ids repeat"),
    "a missing NodePort": (lambda s: s["instances"]["shop/catalog"]["nodePorts"].pop("1"), "no port for ordinal 1"),
    "votes of 2": (lambda s: _first(s, "shop/catalog")[0].update(votes=2), "less than or equal to 1"),
}


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> State:
    out = tmp_path_factory.mktemp("rendered") / "out"
    assert run(["render", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--out", str(out)]).exit_code == 0
    data: State = json.loads((out / ".fedrender" / "state.json").read_text())
    return data


@pytest.mark.parametrize("case", sorted(EDITS))
def test_an_inconsistent_state_is_refused_at_its_line(tmp_path: Path, state: State, case: str) -> None:
    edit, message = EDITS[case]
    edited = json.loads(json.dumps(state))
    edit(edited)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(edited, indent=2))
    for command in ("explain", "render"):
        argv = [command, "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--state", str(path)]
        result = run([*argv, "--out", str(tmp_path / "out")] if command == "render" else argv)
        assert result.exit_code == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"{path}:" in result.stderr
        assert message in result.stderr
        assert not (tmp_path / "out").exists()


EDITS.update({
    "two ordinals on one nodePort": (lambda s: s["instances"]["shop/catalog"]["nodePorts"].update(
        {"1": s["instances"]["shop/catalog"]["nodePorts"]["0"]}), "each member Service needs its own nodePort"),
    "a member off its ordinal's nodePort": (lambda s: _first(s, "shop/catalog")[3].update(nodePort=30001),
                                            "but nodePorts gives its ordinal 1"),
})


def _services(state: State) -> list[tuple[str, str]]:
    """(instance, nodePorts key) of every member Service in ``state``."""
    return [(name, key) for name, inst in sorted(state["instances"].items()) for key in sorted(inst["nodePorts"])]


def _refusal(state: State, tmp_path: Path) -> tuple[str, str, int]:
    """(message, field path, line) of the refusal of ``state`` written as a render writes it; the line's text."""
    text = json.dumps(state, indent=2, sort_keys=True)
    with pytest.raises(InputError) as refused:
        parse_state(text, str(tmp_path / "state.json"))
    diagnostic = refused.value.diagnostics[0]
    assert diagnostic.location is not None
    assert diagnostic.location.line > 0
    return diagnostic.message, diagnostic.field_path, diagnostic.location.line


def test_the_rendered_state_is_consistent(state: State) -> None:
    parse_state(json.dumps(state), "state.json")


def test_every_pair_of_services_sharing_a_nodeport_is_refused_at_the_entry(tmp_path: Path, state: State) -> None:
    """Generated over every ordered pair of member Services of the rendered state, within and across instances:
    the second gets the first's nodePort (its members too, as a careful hand edit would); the refusal names the
    pair and sits at a nodePorts entry's line."""
    services = _services(state)
    assert len(services) > 10
    for (first, first_key), (second, second_key) in itertools.permutations(services, 2):
        edited = copy.deepcopy(state)
        port = state["instances"][first]["nodePorts"][first_key]
        edited["instances"][second]["nodePorts"][second_key] = port
        for member in edited["instances"][second]["members"]:
            if ("arbiter" if member["arbiterOnly"] else str(member["ordinal"])) == second_key:
                member.update(nodePort=port, host=f"{member['host'].rpartition(':')[0]}:{port}")
        message, field_path, line = _refusal(edited, tmp_path)
        assert "needs its own nodePort" in message, (first, first_key, second, second_key, message)
        lines = json.dumps(edited, indent=2, sort_keys=True).splitlines()
        assert field_path.endswith(f".nodePorts.{first_key}") or field_path.endswith(f".nodePorts.{second_key}")
        assert lines[line - 1].strip().startswith((f'"{first_key}":', f'"{second_key}":')), (field_path, line)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_member_disagreeing_with_its_ordinal_or_cluster_is_refused_at_it(tmp_path: Path, state: State,
                                                                           data: st.DataObject) -> None:
    """Any member whose nodePort, host port or address is changed (to a value a render would not write) is
    refused at that member's line."""
    name = data.draw(st.sampled_from(sorted(state["instances"])))
    members = state["instances"][name]["members"]
    index = data.draw(st.integers(0, len(members) - 1))
    member = members[index]
    edited = copy.deepcopy(state)
    target = edited["instances"][name]["members"][index]
    field = data.draw(st.sampled_from(["nodePort", "host port", "host address", "host copy"]))
    if field == "nodePort":
        target["nodePort"] = data.draw(st.integers(1, 65535).filter(lambda p: p != member["nodePort"]))
    elif field == "host port":
        port = data.draw(st.integers(1, 65535).filter(lambda p: p != member["nodePort"]))
        target["host"] = member["host"].rpartition(":")[0] + f":{port}"
    elif field == "host address":
        peers = [m for m in members if m["cluster"] == member["cluster"] and m is not member]
        if not peers:
            return
        target["host"] = "192.0.2.99:" + str(member["nodePort"])
    else:
        others = [m for m in members if m is not member and m["nodePort"] == member["nodePort"]]
        if not others:
            return
        target["host"] = others[0]["host"]
    message, field_path, _ = _refusal(edited, tmp_path)
    assert field_path.startswith(f"instances.{name}.members"), (field, field_path, message)
    assert f"member {member['id']} " in message or ("the same host" in message and f" {member['id']} " in message)


def test_an_init_cluster_without_members_is_refused(tmp_path: Path, state: State) -> None:
    edited = copy.deepcopy(state)
    edited["instances"]["shop/catalog"]["initCluster"] = "member-ap-9"
    message, field_path, _ = _refusal(edited, tmp_path)
    assert (field_path, "holds no member" in message) == ("instances.shop/catalog.initCluster", True)


@pytest.mark.parametrize("key", ["files", "instances", "schemaVersion", "tool"])
def test_a_repeated_key_is_refused_at_its_line(tmp_path: Path, state: State, key: str) -> None:
    """JSON readers keep the last of two equal keys without a word; a state file repeating one is refused."""
    text = json.dumps(state, indent=2, sort_keys=True)
    repeated = "{\n  " + json.dumps(key) + ": " + json.dumps(state[key]) + "," + text[1:]
    with pytest.raises(InputError) as refused:
        parse_state(repeated, "state.json")
    diagnostic = refused.value.diagnostics[0]
    assert f"duplicate key {key!r}" in diagnostic.message
    assert diagnostic.location is not None
    assert repeated.splitlines()[diagnostic.location.line - 1].strip().startswith(f'"{key}"')


def test_a_repeated_files_key_in_out_is_refused_before_pruning(tmp_path: Path, state: State) -> None:
    out = tmp_path / "out"
    assert run(["render", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--out", str(out)]).exit_code == 0
    path = out / ".fedrender" / "state.json"
    path.write_text('{"files": [],' + path.read_text()[1:])
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps(state))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = run(["render", "--specs", str(SPECS), "--clusters", str(CLUSTERS), "--out", str(out),
                  "--state", str(fresh)])
    assert result.exit_code == 1
    assert "duplicate key 'files'" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_state_render_would_write_inconsistently_is_refused_not_a_traceback() -> None:
    """The guard behind the input checks (compose.state): a result whose members repeat a host, which no input
    reaches any more (two clusters with one VIP are refused first), is an InputError, never a ValidationError."""
    from fedrender.models.views import MemberView
    from fedrender.pipeline.compose import state as state_bytes
    from fedrender.pipeline.schedule import InstanceResult

    members = [MemberView(id=i, cluster=c, ordinal=0, host="10.0.0.1:30001", nodePort=30001, votes=1, priority=1)
               for i, c in enumerate(("a", "b"))]
    result = InstanceResult("team", "db", "mongodb", {"a": 1, "b": 1}, members, {}, {}, [], "a",
                            node_ports={"0": 30001})
    with pytest.raises(InputError) as refused:
        state_bytes([], {}, [result], [])
    [problem] = refused.value.diagnostics
    assert problem.message.startswith("the state this render would write is inconsistent, so nothing is written: ")
    assert "same host '10.0.0.1:30001'" in problem.message
