"""Bounded loading (issue 10, section 3): hostile YAML is refused fast with a located error, in every input.

The hostile documents are generated here: alias bombs, recursive anchors, a large anchor referenced thousands
of times, deep nesting, huge integers. Each one is planted in each kind of input (spec, cluster snapshot,
overlay, rule pack files) and must end the run with exit code 1, a ``file:line:col`` at the planted line, no
traceback (the CLI runner re-raises exceptions) and an output directory that has not changed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.models.diagnostics import InputError
from fedrender.models.inputfile import read_text
from fedrender.models.source import MAX_DEPTH, SourceDoc, load_text
from tests.conftest import CLUSTERS, ROOT, run, tree

SPEC = ROOT / "examples" / "specs" / "fedstate-readme-sample.yaml"
REDIS = ROOT / "rules" / "redis"


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    parts = ["&a0 [" + ", ".join(["lol"] * width) + "]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


HOSTILE: dict[str, Callable[[], str]] = {
    "billion-laughs": billion_laughs,
    "self-alias": lambda: "&s [1, *s]",
    "self-merge": lambda: "&m {a: 1, <<: *m}",
    "large-anchor": lambda: "[&big " + "x" * 1_000_000 + ", " + ", ".join(["*big"] * 3000) + "]",
    "deep-nesting": lambda: "[" * 300 + "]" * 300,
    "huge-integer": lambda: "9" * 5000,
}


def plant(path: Path, value: str) -> int:
    """Append ``hostile: <value>`` to the (last) document of ``path``; returns its line number."""
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + f"hostile: {value}\n", encoding="utf-8")
    return text.count("\n") + 1


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert run(["render", "--specs", str(SPEC), "--clusters", str(CLUSTERS), "--out", str(out)]).exit_code == 0
    return out


def _refused(args: list[str], where: Path, line: int) -> str:
    result = run(args)
    assert result.exit_code == 1, result.output
    assert f"{where}:{line}:" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.output
    return str(result.stderr)


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("place", ["specs", "clusters", "overlay", "rules"])
def test_hostile_yaml_is_refused_by_render(tmp_path: Path, out: Path, hostile: str, place: str) -> None:
    before = tree(out)
    spec, clusters = tmp_path / "spec.yaml", tmp_path / "clusters.yaml"
    shutil.copy(SPEC, spec)
    shutil.copy(CLUSTERS, clusters)
    overlay, rules = tmp_path / "overlay", tmp_path / "rules"
    overlay.mkdir()
    (overlay / "values.yaml").write_text("values: {}\n")
    shutil.copytree(ROOT / "rules" / "mongodb", rules / "mongodb")
    target = {"specs": spec, "clusters": clusters, "overlay": overlay / "values.yaml",
              "rules": rules / "mongodb" / "pack.yaml"}[place]
    line = plant(target, HOSTILE[hostile]())
    _refused(["render", "--specs", str(spec), "--clusters", str(clusters), "--overlay", str(overlay),
              "--rules", str(rules), "--out", str(out)], target, line)
    assert tree(out) == before


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("file", ["pack.yaml", "crd.yaml", "templates/configmap.yaml", "tests.yaml"])
def test_hostile_yaml_is_refused_by_rules_check(tmp_path: Path, hostile: str, file: str) -> None:
    pack = tmp_path / "redis"
    shutil.copytree(REDIS, pack)
    line = plant(pack / file, HOSTILE[hostile]())
    _refused(["rules", "check", str(pack)], pack / file, line)


def test_refusals_say_what_is_wrong() -> None:
    def message(value: str) -> str:
        with pytest.raises(InputError) as caught:
            load_text(f"a: 1\nb: {value}\n", "t.yaml")
        return str(caught.value)

    assert "t.yaml:2:" in message(billion_laughs())
    assert "excessive aliasing" in message(billion_laughs())
    assert "contains an alias to itself" in message("&s [*s]")
    assert "aliases expand to more than" in message(HOSTILE["large-anchor"]())
    assert f"nested deeper than {MAX_DEPTH} levels" in message(HOSTILE["deep-nesting"]())
    assert "64-bit integers" in message("9" * 5000)
    assert "out of the 64-bit range" in message(str(2**63))
    assert "not a JSON number" in message(".inf")
    assert "t.yaml:2:4" in message("\x01")


def test_aliases_kubernetes_accepts_still_load() -> None:
    """go-yaml's rule allows 99% of a small document to come from aliases: ordinary anchors keep working."""
    text = "base: &r {cpu: '1', memory: 1Gi}\n" + "".join(f"m{i}: *r\n" for i in range(500))
    data = load_text(text, "t.yaml")[0].data
    assert data["m499"] == {"cpu": "1", "memory": "1Gi"}


@settings(max_examples=50, deadline=None)
@given(base=st.dictionaries(st.sampled_from("abcdef"), st.integers(-5, 5), min_size=1),
       extra=st.dictionaries(st.sampled_from("defgh"), st.integers(-5, 5)),
       second=st.dictionaries(st.sampled_from("aeiou"), st.integers(-5, 5), min_size=1))
def test_merge_keys_take_overrides(base: dict[str, int], extra: dict[str, int], second: dict[str, int]) -> None:
    """YAML 1.1 merge: explicit keys override merged ones; of merged mappings, the earlier wins."""
    flow = lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"  # noqa: E731
    body = ", ".join(["<<: [*b, *s]", *(f"{k}: {v}" for k, v in extra.items())])
    docs = load_text(f"b: &b {flow(base)}\ns: &s {flow(second)}\nx: {{{body}}}\n", "t.yaml")
    assert docs[0].data["x"] == {**second, **base, **extra}


def test_merge_key_override_renders(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.read_text())
    spec["spec"].pop("resource", None)
    text = yaml.safe_dump(spec, sort_keys=False)
    assert text.splitlines()[-1].startswith("  ")  # spec is the last key
    text += "  resource:\n    limits: &base {cpu: '2', memory: 1Gi}\n    requests: {<<: *base, cpu: '1'}\n"
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = run(["render", "--specs", str(path), "--clusters", str(CLUSTERS), "--out", "-"])
    assert result.exit_code == 0, result.stderr
    sts = next(d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "StatefulSet")
    mongod = sts["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert mongod["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert mongod["limits"] == {"cpu": "2", "memory": "1Gi"}
    with pytest.raises(InputError, match="duplicate key 'c'"):
        load_text("a: &b {c: 1}\nx: {<<: *b, c: 2, c: 3}\n", "t")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=12),
                      min_size=1, max_size=6),
       data=st.data())
def test_encoding_errors_give_the_line_and_column(tmp_path: Path, lines: list[str], data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(lines) - 1))
    col = data.draw(st.integers(0, len(lines[row])))
    bad = data.draw(st.sampled_from([b"\xff", b"\xc3", b"\xe9x", b"\x80"]))
    encoded = [line.encode() for line in lines]
    prefix = lines[row][:col].encode()
    encoded[row] = prefix + bad + lines[row][col:].encode()
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\n".join(encoded))
    with pytest.raises(InputError) as caught:
        read_text(path)
    assert str(caught.value).startswith(f"{path}:{row + 1}:{col + 1}: error: not UTF-8")


def test_a_state_file_that_is_not_utf8_is_located(tmp_path: Path, out: Path) -> None:
    before = tree(out)
    state = tmp_path / "state.json"
    state.write_bytes(b'{\n  "schemaVersion": 1,\n  "tool": "caf\xe9"\n}\n')
    stderr = _refused(["render", "--specs", str(SPEC), "--clusters", str(CLUSTERS), "--state", str(state),
                       "--out", str(out)], state, 3)
    assert f"{state}:3:15: error: cannot read the state file: not UTF-8" in stderr
    assert tree(out) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("option", ["--specs", "--clusters", "--state", "--in-overlay-dir", "--in-specs-dir"])
def test_a_fifo_is_an_error_not_a_hang(tmp_path: Path, out: Path, option: str) -> None:
    """Reading a FIFO blocks until a writer comes: nothing writes to these, so a hang would hang the test."""
    before = tree(out)
    fifo = tmp_path / "input.yaml"
    os.mkfifo(fifo)
    args = {"--specs": str(SPEC), "--clusters": str(CLUSTERS)}
    extra: list[str] = []
    if option in ("--specs", "--clusters", "--state"):
        args[option] = str(fifo)
    else:
        folder = tmp_path / "folder"
        folder.mkdir()
        fifo.rename(folder / "input.yaml")
        fifo = folder / "input.yaml"
        if option == "--in-specs-dir":
            shutil.copy(SPEC, folder / "spec.yaml")
            args["--specs"] = str(folder)
        else:
            extra = ["--overlay", str(folder)]
    argv = ["render", *[x for k, v in args.items() for x in (k, v)], *extra, "--out", str(out)]
    result = run(argv)
    assert result.exit_code == 1, result.output
    assert f"{fifo}: error: " in result.stderr
    assert "not a regular file: it is a FIFO" in result.stderr
    assert tree(out) == before


def test_list_items_share_the_positions_of_their_file() -> None:
    """Items of a List are views on the file's positions: nothing is copied per item (that was quadratic)."""
    items = [{"metadata": {"name": f"c{i}"}} for i in range(50)]
    doc = load_text(yaml.safe_dump({"kind": "List", "items": items}), "list.yaml")[0]
    subs = [doc.sub(("items", i)) for i in range(50)]
    assert all(s.positions is doc.positions and s.key_positions is doc.key_positions for s in subs)
    separate = load_text(yaml.safe_dump_all(items), "docs.yaml")
    for i, sub in enumerate(subs):
        assert sub.data == separate[i].data
        assert sub.location(("metadata", "name")).line == doc.location(("items", i, "metadata", "name")).line
        assert sub.location(("metadata", "nope")) == doc.location(("items", i, "metadata"))
    assert isinstance(subs[0], SourceDoc)


def test_cluster_errors_in_a_list_point_at_the_item(tmp_path: Path) -> None:
    snapshot = yaml.safe_load(CLUSTERS.read_text())
    snapshot["items"][3]["spec"]["bogus"] = 1
    path = tmp_path / "clusters.yaml"
    text = yaml.safe_dump(snapshot)
    path.write_text(text)
    line = text.splitlines().index("    bogus: 1") + 1
    result = run(["explain", "--specs", str(SPEC), "--clusters", str(path)])
    assert result.exit_code == 1
    assert f"{path}:{line}:5: error: spec.bogus: unknown field" in result.stderr


@pytest.mark.parametrize("body", ['{"schemaVersion": 1, "tool": ' + "[" * 5000 + "]" * 5000 + "}",
                                  '{"schemaVersion": 1, "tool": ' + "9" * 5000 + "}",
                                  '{"schemaVersion": 1e999}'])
def test_a_hostile_state_file_is_refused(tmp_path: Path, out: Path, body: str) -> None:
    before = tree(out)
    state = tmp_path / "state.json"
    state.write_text(body)
    result = run(["render", "--specs", str(SPEC), "--clusters", str(CLUSTERS), "--state", str(state),
                  "--out", str(out)])
    assert result.exit_code == 1
    where = re.escape(str(state))
    assert re.search(rf"^{where}(:1:\d+)?: error: (\S+: )?cannot use the state file", result.stderr, re.M)
    assert tree(out) == before


def test_a_deeply_nested_state_in_out_is_no_traceback(tmp_path: Path, out: Path) -> None:
    """With --state elsewhere, the state file in --out is still read (for the files it owns)."""
    good = tmp_path / "good.json"
    good.write_bytes((out / ".fedrender" / "state.json").read_bytes())
    (out / ".fedrender" / "state.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run(["render", "--specs", str(SPEC), "--clusters", str(CLUSTERS), "--state", str(good),
                  "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
