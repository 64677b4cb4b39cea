"""Run a rule pack's tests.yaml: render each case in a scratch directory and compare with what it expects."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonpointer
import yaml

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.models.parse import parse_model
from fedrender.models.ruletests import Case, Expectation, PackTests
from fedrender.models.source import load_file
from fedrender.pipeline.preview import preview
from fedrender.pipeline.render import Inputs, RenderResult, render

TESTS_FILE = "tests.yaml"


@dataclass
class Outcome:
    file: str
    case: str
    failures: list[str] = field(default_factory=list)


def load_tests(pack: Path) -> PackTests | None:
    path = pack / TESTS_FILE
    if not path.is_file():
        return None
    docs = load_file(path)
    if len(docs) != 1:
        raise InputError([Diagnostic("a tests file holds one document",
                                     docs[1].location() if len(docs) > 1 else Location(str(path)))])
    return parse_model(PackTests, docs[0], "pack tests")


def run_tests(pack: Path) -> list[Outcome]:
    """One outcome per case of ``pack``'s tests.yaml (none when it has no tests)."""
    tests = load_tests(pack)
    if tests is None:
        return []
    display = str(pack / TESTS_FILE)
    return [Outcome(display, case.name, _run_case(pack, tests, case)) for case in tests.cases]


def _run_case(pack: Path, tests: PackTests, case: Case) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="fedrender-test-") as tmp:
        root = Path(tmp)
        slug = re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-") or "case"
        specs = root / f"{slug}.yaml"
        specs.write_text(case.specs, encoding="utf-8")
        clusters = pack / tests.clusters
        if case.clusters:
            clusters = root / "clusters.yaml"
            clusters.write_text(case.clusters, encoding="utf-8")
        overlays = []
        if case.overlay:
            (root / "overlay").mkdir()
            (root / "overlay" / "overlay.yaml").write_text(yaml.safe_dump(case.overlay), encoding="utf-8")
            overlays.append(root / "overlay")
        try:
            result = render(Inputs([specs], clusters, pack, overlays))
        except InputError as exc:
            return _expect_errors(case.expect, [d.render() for d in exc.diagnostics])
        if case.expect.errors:
            return [f"expected the render to fail with {case.expect.errors}, but it succeeded"]
        return _compare(case.expect, result)


def _expect_errors(expect: Expectation, errors: list[str]) -> list[str]:
    if not expect.errors:
        return ["the render failed: " + " | ".join(e.splitlines()[0] for e in errors)]
    return [f"no error contains {text!r}; errors: " + " | ".join(e.splitlines()[0] for e in errors)
            for text in expect.errors if not any(text in e for e in errors)]


def _compare(expect: Expectation, result: RenderResult) -> list[str]:
    failures: list[str] = []
    if len(result.instances) != 1 and (expect.placement is not None or expect.excluded or expect.members):
        return [f"placement expectations need exactly one instance, got {len(result.instances)}"]
    warnings = [w.message for w in result.warnings]
    if result.instances:
        inst = result.instances[0]
        if expect.placement is not None and inst.placement != expect.placement:
            failures.append(f"placement is {inst.placement}, expected {expect.placement}")
        for cluster, text in expect.excluded.items():
            reason = inst.excluded.get(cluster)
            if reason is None or text not in reason:
                failures.append(f"{cluster} should be excluded with a reason containing {text!r}, got {reason!r}")
        members = [m.model_dump() for m in inst.members]
        by_id = {m["id"]: m for m in members}
        for index, wanted in enumerate(expect.members):
            got = by_id.get(wanted["id"], {}) if "id" in wanted else members[index] if index < len(members) else {}
            if any(got.get(k) != v for k, v in wanted.items()):
                failures.append(f"member {index} is {_short(got)}, expected {wanted}")
        warnings += [w for i in result.instances for w in i.warnings]
    failures += [f"no warning contains {text!r}; warnings: {warnings}" for text in expect.warnings
                 if not any(text in w for w in warnings)]
    for check in expect.objects:
        failures += _check_object(check, result)
    return failures


def _short(member: dict[str, Any]) -> dict[str, Any]:
    return {k: member[k] for k in ("id", "cluster", "ordinal", "votes", "priority") if k in member}


def _check_object(check: Any, result: RenderResult) -> list[str]:
    what = f"{check.kind} {check.name}" + (f" in {check.cluster}" if check.cluster else "")
    if check.cluster:
        candidates = [received for _, received in preview(result.files, check.cluster).objects]
    else:
        candidates = [o for i in result.instances for o in i.objects]
    found = [o for o in candidates if o["kind"] == check.kind and o["metadata"]["name"] == check.name
             and (not check.namespace or o["metadata"].get("namespace") == check.namespace)]
    if not found:
        return [f"no {what} was rendered"]
    try:
        value = jsonpointer.resolve_pointer(found[0], check.path)
    except jsonpointer.JsonPointerException:
        return [] if check.absent else [f"{what} has no {check.path}"]
    if check.absent:
        return [f"{what} should have no {check.path}, but it is {value!r}"]
    return [] if value == check.equals else [f"{what} {check.path} is {value!r}, expected {check.equals!r}"]
