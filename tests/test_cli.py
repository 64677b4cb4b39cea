"""The command line contract: exit codes, the explain JSON shape, CEL diagnostics with a caret."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import DEMO_ARGS, ROOT, edited_pack, run


def test_usage_errors_exit_2() -> None:
    assert run(["render", *DEMO_ARGS]).exit_code == 2  # --out missing
    assert run(["explain", *DEMO_ARGS, "-o", "xml"]).exit_code == 2
    assert run(["no-such-command"]).exit_code == 2


def test_explain_json_shape() -> None:
    result = run(["explain", *DEMO_ARGS, "-o", "json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(i["namespace"], i["name"]) for i in doc["instances"]] == [
        ("default", "multicloudmongodb-sample"), ("identity", "sessions"), ("shop", "cache"), ("shop", "catalog"),
        ("shop", "ledger"), ("shop", "orders")]
    for inst in doc["instances"]:
        assert sum(inst["placement"].values()) + (inst["arbiter"] is not None) == len(inst["members"])
        assert set(inst) - {"version"} == {"namespace", "name", "placement", "members", "excluded", "moves",
                                           "voteChanges", "arbiter", "capacity", "warnings", "settings",
                                           "initialized", "observed", "waiting"}
        assert ("version" in inst) == (inst["name"] != "cache")  # the release a MongoDB image runs; Redis: none
        assert inst["waiting"] == []
        assert inst["initialized"] is False  # the example snapshot has no MongoReplicaSet
        assert (inst["observed"] is None) == (inst["name"] == "cache")  # Redis renders no MongoReplicaSet
        assert {c["estimate"] for c in inst["capacity"].values()} == {"resourceSummary"}  # the examples have no models
        assert inst["moves"] == []
        assert inst["voteChanges"] == []
        for member in inst["members"]:
            assert set(member) == {"id", "cluster", "ordinal", "host", "votes", "priority"}
    catalog = doc["instances"][3]
    assert catalog["placement"] == {"member-eu-1": 2, "member-eu-2": 2, "member-us-1": 1}
    assert catalog["excluded"]["member-ap-1"].startswith("is not Ready")
    assert catalog["excluded"]["member-ap-2"].startswith("has no VIP")
    sample = doc["instances"][0]
    assert any("only two clusters are eligible" in w for w in sample["warnings"])
    assert "member-us-1" in sample["excluded"]
    assert "taint" in sample["excluded"]["member-us-1"]


def test_explain_text_has_a_table_with_reasons() -> None:
    result = run(["explain", *DEMO_ARGS])
    assert result.exit_code == 0
    assert "CLUSTER" in result.stdout
    assert "REASON" in result.stdout
    assert "is not Ready: ClusterNotReachable" in result.stdout


def test_cel_errors_point_at_file_line_col_with_a_caret(tmp_path: Path) -> None:
    pack = tmp_path / "mongodb"
    shutil.copytree(ROOT / "rules" / "mongodb", pack)
    text = (pack / "pack.yaml").read_text()
    broken = text.replace("expression: cluster.vip != ''", "expression: cluster.vipp != ''", 1)
    (pack / "pack.yaml").write_text(broken)
    line = broken.splitlines().index("        expression: cluster.vipp != ''") + 1
    result = run(["explain", *DEMO_ARGS, "--rules", str(pack)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    head = f"{pack / 'pack.yaml'}:{line}:28: error: rule 'has-vip': undefined field 'vipp'"
    index = next(i for i, t in enumerate(lines) if t.startswith(head))
    assert lines[index + 1] == " |         expression: cluster.vipp != ''"
    assert lines[index + 2] == " | " + " " * 27 + "^"


def test_cel_type_errors_are_found_at_load_time(tmp_path: Path) -> None:
    pack = edited_pack(tmp_path, 'votes: "member.arbiterOnly || member.voter ? 1 : 0"', 'votes: "member.voter"')
    result = run(["explain", *DEMO_ARGS, "--rules", str(pack)])
    assert result.exit_code == 1
    assert "rule 'votes': expression must evaluate to int, not bool" in result.stderr


def test_four_members_on_three_clusters_vote_one_per_cluster(tmp_path: Path) -> None:
    """2-1-1: 3 of the 4 members vote (an odd number), one in each cluster; the fourth has priority 0."""
    spec = (ROOT / "examples" / "specs" / "team-databases.yaml").read_text().split("---")[0]
    path = tmp_path / "orders.yaml"
    path.write_text(spec.replace("replicaset: 3", "replicaset: 4"))
    result = run(["explain", "--specs", str(path), "--clusters", str(ROOT / "examples" / "clusters" / "clusters.yaml"),
                  "-o", "json"])
    assert result.exit_code == 0, result.stderr
    orders = json.loads(result.stdout)["instances"][0]
    assert sorted(orders["placement"].values()) == [1, 1, 2]
    voters = [m for m in orders["members"] if m["votes"]]
    assert sorted(m["cluster"] for m in voters) == sorted(orders["placement"])
    assert [(m["votes"], m["priority"]) for m in orders["members"] if m not in voters] == [(0, 0)]
    assert not any("even number of voting members" in w for w in orders["warnings"])


def test_an_overlay_can_supply_a_missing_vip(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "vips.yaml").write_text("clusters:\n  member-ap-2:\n    vip: 10.31.1.10\n")
    result = run(["explain", *DEMO_ARGS, "--overlay", str(overlay), "-o", "json"])
    assert result.exit_code == 0, result.stderr
    orders = next(i for i in json.loads(result.stdout)["instances"] if i["name"] == "catalog")
    assert "member-ap-2" not in orders["excluded"]
    assert any(m["host"].startswith("10.31.1.10:") for m in orders["members"])


def test_no_progress_output_when_not_on_a_terminal() -> None:
    result = run(["explain", *DEMO_ARGS])
    assert "scheduling" not in result.stderr
