"""Every message about an input locates its cause (issue 10, section 6).

Three kinds of test: bad inputs built here, one per error path of ``render``, whose every error line must
start with ``path:line:col:`` pointing at a line that exists; a property over random mixes of faulty specs;
and a static scan that fails when a ``Diagnostic`` without a line is added to fedrender/ outside the
allow-list below. NodePorts get their own tests: the range's location, the instances left without ports,
the check before scheduling, and the allocation against a plain re-statement of its semantics.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.composer.nodeports import PortKey, PortsExhausted, allocate, preferred
from tests.conftest import CLUSTERS, ROOT, edited_pack, run, tree

SPEC = yaml.safe_load((ROOT / "examples" / "specs" / "team-databases.yaml").read_text().split("---")[0])
MONGODB = ROOT / "rules" / "mongodb"
LOCATED = re.compile(r"^(?P<file>\S+?):(?P<line>[1-9]\d*):(?P<col>[1-9]\d*): (?:error|warning): ")


def _spec(name: str = "orders", **spec: Any) -> dict[str, Any]:
    return {**SPEC, "metadata": {**SPEC["metadata"], "name": name}, "spec": {**SPEC["spec"], **spec}}


def _write(path: Path, *docs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _error_lines(stderr: str) -> list[str]:
    """The lines that start a message: not the source line and caret under it (`` | ``), not a message's
    indented details, not the closing count."""
    return [line for line in stderr.splitlines() if line and not line.startswith((" ", "fedrender: "))]


def assert_located(result: Any, *needles: str) -> list[str]:
    """Exit 1, no traceback, every message at ``file:line:col`` of a line that exists; each needle in one."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = _error_lines(result.stderr)
    assert lines, result.stderr
    for line in lines:
        match = LOCATED.match(line)
        assert match, f"not located: {line}"
        path = Path(match["file"])
        assert path.is_file(), f"{line}: {path} is not a file"
        assert int(match["line"]) <= len(path.read_text().splitlines()), f"{line}: no such line"
    for needle in needles:
        assert any(needle in line for line in lines), f"{needle!r} not in {lines}"
    return lines


def _render(tmp: Path, specs: Path, *extra: str, clusters: Path = CLUSTERS) -> Any:
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    (out / "keep.txt").write_text("before\n")
    before = tree(out)
    result = run(["render", "--specs", str(specs), "--clusters", str(clusters), "--out", str(out), *extra])
    if result.exit_code == 1:
        assert tree(out) == before
    return result


# Each builder makes one kind of bad input and returns the render's result and what its message must say.
Case = Callable[[Path], tuple[Any, list[str]]]
ZERO = "(eligibleCount - eligibleCount)"


def _cel_failure(old: str, new: str, needle: str) -> Case:
    def build(tmp: Path) -> tuple[Any, list[str]]:
        specs = _write(tmp / "specs.yaml", _spec())
        result = _render(tmp, specs, "--rules", str(edited_pack(tmp, old, new)))
        return result, [needle, "divide by zero", f"(the instance is defined at {specs}:"]
    return build


def _duplicate_instance(tmp: Path) -> tuple[Any, list[str]]:
    specs = _write(tmp / "specs.yaml", _spec(), _spec())
    return _render(tmp, specs), ["shop/orders is also defined at", "metadata.name"]


def _infeasible(tmp: Path) -> tuple[Any, list[str]]:
    clusters = yaml.safe_load(CLUSTERS.read_text())
    for item in clusters["items"]:
        item["status"]["conditions"] = [{**c, "status": "False"} for c in item["status"]["conditions"]]
    path = _write(tmp / "clusters.yaml", clusters)
    return _render(tmp, _write(tmp / "specs.yaml", _spec()), clusters=path), ["spec.replicaset: shop/orders"]


def _spread_infeasible(tmp: Path) -> tuple[Any, list[str]]:
    spread = {"spreadConstraints": [{"spreadByField": "region", "minGroups": 5}]}
    specs = _write(tmp / "specs.yaml", _spec(replicaset=5, spreadConstraints=spread))
    return _render(tmp, specs), ["spec.spreadConstraints.spreadConstraints[0].minGroups: shop/orders: "
                                 "spreadConstraints (spreadByField: region, minGroups: 5) need 5 regions"]


def _damaged_state(text: str, needle: str) -> Case:
    def build(tmp: Path) -> tuple[Any, list[str]]:
        state = tmp / "state.json"
        state.write_text(text)
        specs = _write(tmp / "specs.yaml", _spec())
        return _render(tmp, specs, "--state", str(state)), [needle]
    return build


def _valid_state(tmp: Path) -> dict[str, Any]:
    out = tmp / "first"
    assert run(["render", "--specs", str(_write(tmp / "specs.yaml", _spec())), "--clusters", str(CLUSTERS),
                "--out", str(out)]).exit_code == 0
    state: dict[str, Any] = json.loads((out / ".fedrender" / "state.json").read_text())
    return state


def _state_with_bad_field(tmp: Path) -> tuple[Any, list[str]]:
    state = _valid_state(tmp)
    state["instances"]["shop/orders"]["members"][1]["nodePort"] = "thirty"
    path = tmp / "state.json"
    path.write_text(json.dumps(state, indent=2, sort_keys=True))
    result = _render(tmp, tmp / "specs.yaml", "--state", str(path))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "thirty" in text)
    return result, [f"{path}:{line}:", "instances.shop/orders.members[1].nodePort"]


def _merged_overlay(tmp: Path) -> tuple[Any, list[str]]:
    overlay = tmp / "overlay"
    _write(overlay / "a.yaml", {"nodePorts": {"min": 32000}})
    _write(overlay / "b.yaml", {"labels": {"x": "y"}, "nodePorts": {"max": 31000}})
    result = _render(tmp, _write(tmp / "specs.yaml", _spec()), "--overlay", str(overlay))
    return result, [f"{overlay / 'b.yaml'}:3:1: error: nodePorts: the merged overlay is invalid"]


def _ports_before_scheduling(tmp: Path) -> tuple[Any, list[str]]:
    overlay = tmp / "overlay"
    _write(overlay / "ports.yaml", {"labels": {"x": "y"}, "nodePorts": {"min": 31000, "max": 31001}})
    specs = _write(tmp / "specs.yaml", *(_spec(f"db-{i}") for i in range(4)))
    result = _render(tmp, specs, "--overlay", str(overlay))
    return result, [f"{overlay / 'ports.yaml'}:3:1: error: nodePorts: the range 31000-31001 has 2 NodePorts but "
                    "the member Services of the instances need at least 4",
                    "shop/db-2: no NodePort is left", "shop/db-3: no NodePort is left",
                    f"(set at {overlay / 'ports.yaml'}:3:1)"]


def _ports_after_scheduling(tmp: Path) -> tuple[Any, list[str]]:
    # Five members over the three eligible clusters take two ordinals (2-2-1), more than the one port; the
    # bound before scheduling (five clusters in the snapshot: one ordinal) lets it through to compose.
    overlay = tmp / "overlay"
    _write(overlay / "ports.yaml", {"nodePorts": {"min": 31000, "max": 31000}})
    specs = _write(tmp / "specs.yaml", _spec(replicaset=5))
    result = _render(tmp, specs, "--overlay", str(overlay))
    return result, [f"{overlay / 'ports.yaml'}:1:1: error: nodePorts: the range 31000-31000 has 1 NodePort but "
                    "the member Services of the instances need 2:", "shop/orders: no NodePort is left for 1"]


def _override_failure(tmp: Path) -> tuple[Any, list[str]]:
    pack = edited_pack(tmp, "path: /spec/init", "path: /spec/no/such/field")
    specs = _write(tmp / "specs.yaml", _spec())
    return _render(tmp, specs, "--rules", str(pack)), ["rule 'init-cluster'", "Karmada would fail to apply it",
                                                       f"of the instance defined at {specs}:"]


CASES: dict[str, Case] = {
    "cel-validation": _cel_failure("spec.replicaset >= 1", "spec.replicaset / (spec.replicaset - spec.replicaset)"
                                   " >= 1", "rule 'replicaset-set' failed for shop/orders"),
    "cel-member-count": _cel_failure("      expression: spec.replicaset\n", "      expression: spec.replicaset / "
                                     "(spec.replicaset - spec.replicaset)\n", "failed for shop/orders"),
    "cel-score": _cel_failure('"cluster.fits > 10 ? 10 : cluster.fits"', '"cluster.fits / (cluster.fits - '
                              'cluster.fits)"', "rule 'room' failed for shop/orders on cluster"),
    "cel-check": _cel_failure("members.filter(m, m.votes > 0 && !m.leaving).size() <= 7",
                              f"members.filter(m, m.votes > 0 && !m.leaving).size() / {ZERO} <= 7",
                              "rule 'at-most-seven-voters' failed for shop/orders"),
    "cel-override": _cel_failure("when: cluster.name == initCluster",
                                 f"when: cluster.name == initCluster && 1 / {ZERO} == 1",
                                 "rule 'init-cluster' failed for shop/orders on cluster"),
    "duplicate-instance": _duplicate_instance,
    "infeasible": _infeasible,
    "spread-infeasible": _spread_infeasible,
    "state-not-json": _damaged_state('{\n  "schemaVersion": 1,\n  oops\n}\n', "state.json:3:3: error: cannot use"),
    "state-not-ours": _damaged_state('{\n  "schemaVersion": 7\n}\n', "state.json:2:3: error: schemaVersion: "
                                     "cannot use the state file: it has schemaVersion 7"),
    "state-bad-field": _state_with_bad_field,
    "merged-overlay": _merged_overlay,
    "ports-before-scheduling": _ports_before_scheduling,
    "ports-after-scheduling": _ports_after_scheduling,
    "override-failure": _override_failure,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_error_path_of_render_names_file_line_and_column(tmp_path: Path, name: str) -> None:
    result, needles = CASES[name](tmp_path)
    assert_located(result, *needles)


def test_the_default_node_port_range_is_named_with_where_to_set_it(tmp_path: Path) -> None:
    # One cluster, 56 instances of 50 members: 2,800 NodePorts, more than 30000-32767 holds.
    clusters = yaml.safe_load(CLUSTERS.read_text())
    clusters["items"] = [c for c in clusters["items"] if c["metadata"]["name"] == "member-eu-1"]
    path = _write(tmp_path / "clusters.yaml", clusters)
    specs = _write(tmp_path / "specs.yaml", *(_spec(f"db-{i:02d}", replicaset=50) for i in range(56)))
    lines = assert_located(_render(tmp_path, specs, clusters=path),
                           "the default nodePorts range 30000-32767", "set nodePorts.min and nodePorts.max",
                           "need at least 2800")
    # db-55 asks for the last 32 of its 50 (2,768 = 55 * 50 + 18); db-00..db-54 got theirs.
    assert [line.split(": ")[3] for line in lines] == ["shop/db-55"]
    assert "no NodePort is left for 32 of its member Services" in lines[0]


def test_many_instances_without_ports_are_named_up_to_a_limit(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    _write(overlay / "ports.yaml", {"nodePorts": {"min": 31000, "max": 31001}})
    specs = _write(tmp_path / "specs.yaml", *(_spec(f"db-{i:02d}") for i in range(12)))
    lines = assert_located(_render(tmp_path, specs, "--overlay", str(overlay)))
    named = [line.split(": ")[3] for line in lines[1:]]
    assert named == ["shop/db-02", "shop/db-03", "shop/db-04", "shop/db-05", "shop/db-06",
                     "shop/db-07 and 4 more instances after it get no NodePort either"]


FAULTS: dict[str, tuple[Callable[[int], dict[str, Any] | list[Any]], str]] = {
    "unknown field": (lambda i: {**_spec(f"u{i}"), "spek": {}}, "unknown field"),
    "too few members": (lambda i: _spec(f"z{i}", replicaset=0), "at least 1"),
    "not a number": (lambda i: _spec(f"n{i}", replicaset=[3]), "spec.replicaset"),
    "plaintext password": (lambda i: _spec(f"p{i}", auth={"rootPasswd": "x"}), "plaintext password"),
    "unknown kind": (lambda i: {**_spec(f"k{i}"), "kind": "MultiCloudRedis"}, "no rule pack renders"),
    "not an object": (lambda i: [i], "expected a Kubernetes object"),
    "duplicate": (lambda i: _spec("orders"), "is also defined at"),
}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(sorted(FAULTS)), min_size=1, max_size=5), st.integers(0, 2), st.randoms())
def test_any_mix_of_faulty_specs_is_reported_whole_and_located(tmp_path: Path, faults: list[str], good: int,
                                                               random: Any) -> None:
    docs: list[Any] = [_spec("orders")] + [_spec(f"good-{i}") for i in range(good)]
    docs += [FAULTS[f][0](i) for i, f in enumerate(faults)]
    random.shuffle(docs)
    specs = _write(tmp_path / "mix" / "specs.yaml", *docs)
    lines = assert_located(_render(tmp_path / "mix", specs, "--rules", str(MONGODB)), *(FAULTS[f][1] for f in faults))
    assert len(lines) >= len(faults)


# Diagnostics created without a line, each with the reason no line can be named. The scan keys them by
# file and function; an entry that no longer matches fails the test too, so the list stays true.
ALLOWED = {
    ("fedrender/cli/render.py", "_run"): "failures that are not about an input file (git, the API, the output)",
    ("fedrender/cli/render.py", "render_command"): "the OS failed while switching --out (undone): a path in --out, "
                                                   "no line",
    ("fedrender/cli/publish.py", "publish_command"): "failures of git and the work tree, not of an input file",
    ("fedrender/cli/publish.py", "diff_command"): "the repository given is not one; the branch state has its own line",
    ("fedrender/cli/render.py", "preview_command"): "--cluster names a cluster the snapshot lacks: there is no line",
    ("fedrender/cli/karmada.py", "snapshot_command"): "the Karmada API failed; no input file",
    ("fedrender/cli/karmada.py", "status_command"): "the Karmada API failed; no input file",
    ("fedrender/cli/karmada.py", "_warn"): "snapshot captured the Clusters only (MongoReplicaSets refused by the API): "
                                           "no input file",
    ("fedrender/cli/console.py", "read_stdin"): "standard input is too large: no line",
    ("fedrender/models/inputfile.py", "read_input"): "the file can't be read at all: missing, unreadable, not a "
                                                     "regular file (a FIFO), too large",
    ("fedrender/models/source.py", "load_text"): "a YAML error that carries no mark",
    ("fedrender/pipeline/load.py", "default_rules_dir"): "no pack is installed: a directory, no line",
    ("fedrender/pipeline/load.py", "load_packs"): "a --rules directory without packs: a directory, no line",
    ("fedrender/pipeline/load.py", "spec_files"): "a --specs path that does not exist",
    ("fedrender/pipeline/empty.py", "refuse_empty"): "the --specs paths define no instance: paths, no line",
    ("fedrender/pipeline/load.py", "load_overlay"): "an --overlay path that is not a directory",
    ("fedrender/pipeline/load.py", "load_snapshot"): "--clusters is a directory: a path, no line",
    ("fedrender/pipeline/publish.py", "publish"): "the repository's state (not a work tree, dirty)",
    ("fedrender/pipeline/publish.py", "_publish"): "the push never got through (others keep pushing)",
    ("fedrender/pipeline/outfile.py", "write_file"): "snapshot --output-file can't be written (not a regular file, "
                                                     "inside rendered output, the OS refused): a path, no line",
    ("fedrender/pipeline/write.py", "output_root"): "--out is not a directory: a path, no line",
    ("fedrender/pipeline/write.py", "write_tree"): "a rendered path or the OS refuses --out: a path, no line",
    ("fedrender/pipeline/write.py", "_check"): "what is in --out (a symlink, a wrong type, a foreign file): paths",
    ("fedrender/pipeline/render.py", "read_state"): "the state file is missing or can't be read at all",
    ("fedrender/pipeline/compose.py", "state"): "the state render would write is inconsistent: a fault of fedrender's "
                                                "own checks, not of one input line (a guard: test_state_consistency)",
    ("fedrender/rules/pack.py", "load_pack"): "a --rules directory without pack.yaml",
}


def _unlocated() -> set[tuple[str, str]]:
    """(file, function) of every ``Diagnostic(...)`` whose location is missing, None, or ``Location(file)``."""
    found = set()
    for path in sorted((ROOT / "fedrender").rglob("*.py")):
        module = ast.parse(path.read_text())
        for function in ast.walk(module):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Call) or getattr(node.func, "id", "") != "Diagnostic":
                    continue
                where = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "location"), None)
                file_only = (isinstance(where, ast.Call) and isinstance(where.func, ast.Name)
                             and where.func.id == "Location" and len(where.args) + len(where.keywords) < 2)
                if where is None or (isinstance(where, ast.Constant) and where.value is None) or file_only:
                    found.add((path.relative_to(ROOT).as_posix(), function.name))
    return found


def test_no_diagnostic_without_a_line_outside_the_allow_list() -> None:
    found = _unlocated()
    assert found - set(ALLOWED) == set(), "give these diagnostics a Location with a line, or allow them with a reason"
    assert set(ALLOWED) - found == set(), "these allow-list entries no longer match anything: remove them"


def _probing(keys: list[PortKey], low: int, high: int, taken: set[int]) -> dict[PortKey, int]:
    """The allocation as specified: keys in order, each at its hash's offset or the next free port upwards."""
    size, used, out = high - low + 1, set(taken), {}
    for key in sorted(set(keys)):
        offset = preferred(key) % size
        while low + offset in used:
            offset = (offset + 1) % size
        out[key] = low + offset
        used.add(low + offset)
    return out


keys = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["x", "y", "z"]),
                          st.sampled_from(["0", "1", "2", "arbiter", "0/metrics"])), max_size=30)


@given(keys, st.integers(30000, 30010), st.integers(0, 40), st.sets(st.integers(29990, 30060), max_size=20))
def test_allocation_is_the_probing_it_replaces(wanted: list[PortKey], low: int, width: int, taken: set[int]) -> None:
    high = low + width
    inside = {p for p in taken if low <= p <= high}
    if len(set(wanted)) + len(inside) > width + 1:
        with pytest.raises(PortsExhausted) as exc:
            allocate(wanted, (low, high), taken)
        assert exc.value.need == len(set(wanted)) + len(inside)
        assert exc.value.unserved == sorted(set(wanted))[width + 1 - len(inside):]
        return
    ports = allocate(wanted, (low, high), taken)
    assert ports == _probing(wanted, low, high, inside)
    assert len(set(ports.values())) == len(ports)
    assert not set(ports.values()) & inside


def test_allocation_fills_a_range_to_the_last_port() -> None:
    wanted = [("ns", f"db-{i}", "0") for i in range(2766)]
    ports = allocate(wanted, taken=[30000, 32767])
    assert sorted(ports.values()) == list(range(30001, 32767))
    with pytest.raises(PortsExhausted) as exc:
        allocate([*wanted, ("ns", "db-x", "0")], taken=[30000, 32767])
    assert (exc.value.need, exc.value.size, exc.value.unserved) == (2769, 2768, [("ns", "db-x", "0")])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 9), min_size=1, max_size=3), st.data())
def test_the_check_before_scheduling_never_refuses_what_would_fit(tmp_path: Path, members: list[int],
                                                                  data: st.DataObject) -> None:
    """Refused before scheduling only below the bound (members over the five clusters of the snapshot),
    refused after it below the exact need, rendered at or above it."""
    specs = _write(tmp_path / "specs.yaml", *(_spec(f"db-{i}", replicaset=m) for i, m in enumerate(members)))
    first = run(["explain", "--specs", str(specs), "--clusters", str(CLUSTERS), "--rules", str(MONGODB), "-o", "json"])
    assert first.exit_code == 0, first.stderr
    need = sum(max(i["placement"].values()) for i in json.loads(first.stdout)["instances"])  # one port per ordinal
    bound = sum(-(-m // 5) for m in members)
    size = data.draw(st.integers(1, need + 1))
    overlay = tmp_path / f"overlay-{size}"
    _write(overlay / "ports.yaml", {"nodePorts": {"min": 31000, "max": 31000 + size - 1}})
    result = run(["explain", "--specs", str(specs), "--clusters", str(CLUSTERS), "--rules", str(MONGODB), "--overlay",
                  str(overlay)])
    if size >= need:
        assert result.exit_code == 0, result.stderr
    elif size < bound:
        assert_located(result, f"instances need at least {bound}")
    else:
        assert_located(result, f"instances need {need}:")
