"""The state file across renders, through the command line: stickiness, pruning, NodePorts, explain --out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from fedrender.models.state import MemberState
from tests.conftest import CLUSTERS, ROOT, run, tree
from tests.observed import aggregated, observed, rendered_mrs, snapshot

SPEC = yaml.safe_load((ROOT / "examples" / "specs" / "team-databases.yaml").read_text().split("---")[0])


def _specs(path: Path, *specs: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(specs, sort_keys=False))
    return path


def _scaled(n: int, name: str = "orders") -> dict[str, Any]:
    return {**SPEC, "metadata": {**SPEC["metadata"], "name": name}, "spec": {**SPEC["spec"], "replicaset": n}}


def _render(specs: Path, out: Path, *extra: str) -> Any:
    return run(["render", "--specs", str(specs), "--clusters", str(CLUSTERS), "--out", str(out), *extra])


def _state(out: Path) -> dict[str, Any]:
    return json.loads((out / ".fedrender" / "state.json").read_text())


def test_scale_up_keeps_members_and_their_node_ports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(_specs(tmp_path / "s.yaml", _scaled(3)), out).exit_code == 0
    before = _state(out)["instances"]["shop/orders"]
    assert _render(_specs(tmp_path / "s.yaml", _scaled(5)), out).exit_code == 0
    after = _state(out)["instances"]["shop/orders"]
    assert after["members"][:3] == before["members"]
    assert {k: v for k, v in after["nodePorts"].items() if k in before["nodePorts"]} == before["nodePorts"]
    assert len(after["members"]) == 5


def test_scale_down_prunes_the_member_service_once_its_member_is_observed_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    specs = _specs(tmp_path / "s.yaml", _scaled(5))
    assert _render(specs, out).exit_code == 0
    base = out / "instances" / "shop" / "orders"
    assert (base / "service-orders-1.yaml").exists()
    specs = _specs(tmp_path / "s.yaml", _scaled(3))
    result = _render(specs, out)
    assert result.exit_code == 0, result.stderr
    # Phase 1: the dropped members leave the configuration first; their pods and Services stay, and render says
    # so (a step held back is never silent: a CI log shows it, not only explain).
    assert (base / "service-orders-1.yaml").exists()
    assert "shop/orders: waiting: members " in result.stderr
    mrs = rendered_mrs(out, "shop", "orders")
    leaving = [m for m in mrs["spec"]["members"] if m.get("leaving")]
    assert len(leaving) == 2
    # Phase 2: an observation of this roster shows them out of the configuration.
    status = aggregated(mrs, 4, 4)
    status["members"] = [m for m in status["members"] if m["_id"] not in {x["_id"] for x in leaving}]
    seen = snapshot(CLUSTERS, tmp_path / "snapshot.yaml", observed(mrs, 4, status))
    result = run(["render", "--specs", str(specs), "--clusters", str(seen), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert not (base / "service-orders-1.yaml").exists()
    assert not (base / "propagationpolicy-orders-member-1.yaml").exists()
    assert "2 removed" in result.stderr
    assert "shop/orders: allowed: members " in result.stderr


def test_render_reports_failover_moves(tmp_path: Path) -> None:
    out = tmp_path / "out"
    specs = _specs(tmp_path / "s.yaml", _scaled(3))
    assert _render(specs, out).exit_code == 0
    snapshot = yaml.safe_load(CLUSTERS.read_text())
    for cluster in snapshot["items"]:
        if cluster["metadata"]["name"] == "member-eu-2":
            cluster["status"]["conditions"][0].update(status="False", reason="ClusterNotReachable", message="gone")
    down = tmp_path / "clusters.yaml"
    down.write_text(yaml.safe_dump(snapshot))
    result = run(["render", "--specs", str(specs), "--clusters", str(down), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert "shop/orders: moved member 2 member-eu-2 -> " in result.stderr
    assert "member-eu-2 is not Ready: ClusterNotReachable: gone" in result.stderr


def test_explain_with_out_reads_the_state_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(_specs(tmp_path / "s.yaml", _scaled(3)), out).exit_code == 0
    files = tree(out)
    result = run(["explain", "--specs", str(_specs(tmp_path / "s.yaml", _scaled(5))), "--clusters", str(CLUSTERS),
                  "--out", str(out), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert tree(out) == files
    explained = json.loads(result.stdout)["instances"][0]
    kept = _state(out)["instances"]["shop/orders"]["members"]
    assert [{k: m[k] for k in ("id", "cluster", "ordinal", "host")} for m in explained["members"][:3]] == [
        {k: m[k] for k in ("id", "cluster", "ordinal", "host")} for m in kept]


def test_deleting_an_instance_prunes_its_files_and_frees_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(_specs(tmp_path / "s.yaml", _scaled(3), _scaled(3, "billing")), out).exit_code == 0
    (out / "README.md").write_text("not fedrender's\n")
    kept = _state(out)["instances"]["shop/billing"]
    assert _render(_specs(tmp_path / "s.yaml", _scaled(3, "billing")), out).exit_code == 0
    assert not (out / "instances" / "shop" / "orders").exists()
    assert (out / "README.md").read_text() == "not fedrender's\n"
    assert _state(out)["instances"] == {"shop/billing": kept}


def test_a_damaged_state_file_is_an_input_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(_specs(tmp_path / "s.yaml", _scaled(3)), out).exit_code == 0
    state = out / ".fedrender" / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "schemaVersion": 99}))
    files = tree(out)
    result = _render(tmp_path / "s.yaml", out)
    assert result.exit_code == 1
    column = state.read_text().index('"schemaVersion"') + 1
    assert f"{state}:1:{column}: error: schemaVersion: cannot use the state file: it has schemaVersion 99" \
        in result.stderr
    assert tree(out) == files


def test_node_ports_come_from_the_overlay_range_and_running_out_is_an_error(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "ports.yaml").write_text("nodePorts: {min: 31000, max: 31002}\n")
    specs = _specs(tmp_path / "s.yaml", _scaled(3))
    result = run(["explain", "--specs", str(specs), "--clusters", str(CLUSTERS), "--overlay", str(overlay),
                  "-o", "json"])
    assert result.exit_code == 0, result.stderr
    ports = {int(m["host"].split(":")[1]) for m in json.loads(result.stdout)["instances"][0]["members"]}
    assert ports <= {31000, 31001, 31002}
    specs = _specs(tmp_path / "s.yaml", _scaled(3), _scaled(3, "a"), _scaled(3, "b"), _scaled(3, "c"))
    result = run(["explain", "--specs", str(specs), "--clusters", str(CLUSTERS), "--overlay", str(overlay)])
    assert result.exit_code == 1
    assert f"{overlay / 'ports.yaml'}:1:1: error: nodePorts: the range 31000-31002 has 3 NodePorts but the member " \
        "Services of the instances need at least 4" in result.stderr


def test_an_explicit_state_file_must_exist(tmp_path: Path) -> None:
    result = run(["explain", "--specs", str(_specs(tmp_path / "s.yaml", _scaled(3))), "--clusters", str(CLUSTERS),
                  "--state", str(tmp_path / "state.jsn")])
    assert result.exit_code == 1
    assert "state.jsn: error: no such state file" in result.stderr


@pytest.mark.parametrize(("content", "message"), [
    ({"x": 1}, "it is not a fedrender state file"),
    ({"schemaVersion": 3}, "it has schemaVersion 3; this fedrender reads versions 1 and 2"),
], ids=["no version", "a newer version"])
def test_a_state_file_without_a_version_is_not_ours(tmp_path: Path, content: dict[str, Any], message: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(content))
    result = run(["explain", "--specs", str(_specs(tmp_path / "s.yaml", _scaled(3))), "--clusters", str(CLUSTERS),
                  "--state", str(state)])
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_v1_state_file_is_read_and_rewritten_as_v2(tmp_path: Path) -> None:
    """State files of version 1 (before initialized and leaving) are read: not initialized, none leaving."""
    out = tmp_path / "out"
    specs = _specs(tmp_path / "s.yaml", _scaled(3))
    assert _render(specs, out).exit_code == 0
    state = _state(out)
    assert state["schemaVersion"] == 2
    assert state["instances"]["shop/orders"]["initialized"] is False
    assert {m["leaving"] for m in state["instances"]["shop/orders"]["members"]} == {False}
    v1 = json.loads(json.dumps(state))
    v1["schemaVersion"] = 1
    for instance in v1["instances"].values():
        del instance["initialized"]
        for member in instance["members"]:
            del member["leaving"]
    (out / ".fedrender" / "state.json").write_text(json.dumps(v1, indent=2, sort_keys=True) + "\n")
    result = _render(specs, out)
    assert result.exit_code == 0, result.stderr
    assert _state(out) == state  # the same placement, written as version 2


def test_a_leaving_member_does_not_vote() -> None:
    base = {"id": 3, "cluster": "a", "ordinal": 1, "host": "10.0.0.1:31001", "nodePort": 31001}
    assert MemberState.model_validate({**base, "votes": 0, "priority": 0, "leaving": True}).leaving
    for votes, priority in ((1, 0), (0, 1)):
        with pytest.raises(ValidationError, match="a leaving member has votes 0 and priority 0"):
            MemberState.model_validate({**base, "votes": votes, "priority": priority, "leaving": True})
