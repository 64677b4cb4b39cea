"""A state file whose parts don't agree (a hand edit, a bad merge) is refused at its line, never a traceback:
each member's _id its own, at most one arbiter, placement counting the members per cluster, a cluster's
ordinals 0..n-1 each with a NodePort, _ids and numbers within what MongoDB and Kubernetes take."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLUSTERS, SPECS, run

State = dict[str, Any]


def _first(state: State, key: str) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = state["instances"][key]["members"]
    return members


EDITS: dict[str, tuple[Callable[[State], None], str]] = {
    "an ordinal gap": (lambda s: _first(s, "identity/sessions")[1].update(ordinal=5), "pods are numbered 0 to"),
    "an _id past int32": (lambda s: _first(s, "identity/sessions")[1].update(id=2**63), "less than or equal"),
    "two arbiters": (lambda s: [m.update(arbiterOnly=True) for m in _first(s, "shop/catalog")[:2]],
                     "more than one member is an arbiter"),
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
