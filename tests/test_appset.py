"""The ApplicationSets of gitops/ evaluated the way Argo CD evaluates them over what `publish --path manifests`
writes: every directory of the repository is matched against each git directories generator (Go's path.Match,
segment by segment), turned into the generator's path parameters (path, basename, basenameNormalized,
segments: Argo CD operator manual, "Git Generator: Directories") and into the Application the template
produces. Each must have a valid DNS-1123 subdomain name, a path inside the published tree, and a name no
other Application has; the app of apps must order platform before references before instances."""

from __future__ import annotations

import json
import re
import shutil
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.pipeline.compose import APPLICATION_NAME
from tests.conftest import CLUSTERS, DEMO_ARGS, ROOT, run, tree
from tests.refusal import mongodb

GITOPS = ROOT / "gitops"
APPSETS = [yaml.safe_load(p.read_text()) for p in sorted(GITOPS.glob("applicationset*.yaml"))]
PUBLISH_PATH = "manifests"
LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


def is_subdomain(value: str) -> bool:
    """k8s.io/apimachinery IsDNS1123Subdomain, written out here (not fedrender's own check)."""
    return len(value) <= 253 and all(re.fullmatch(LABEL, part) and len(part) <= 63 for part in value.split("."))


def path_match(pattern: str, path: str) -> bool:
    """Go's path.Match for the patterns gitops/ uses: '*' and '?' never cross a '/'."""
    pattern_parts, path_parts = pattern.split("/"), path.split("/")
    return len(pattern_parts) == len(path_parts) and all(
        fnmatchcase(part, want) for part, want in zip(path_parts, pattern_parts, strict=True))


def basename_normalized(name: str) -> str:
    """Argo CD's utils.SanitizeName: lowercase, characters outside [-a-z0-9.] to '-', at most 253, trimmed."""
    return re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253].strip("-.")


def path_params(directory: str) -> dict[str, Any]:
    base = PurePosixPath(directory).name
    return {"path": {"path": directory, "basename": base, "basenameNormalized": basename_normalized(base),
                     "segments": directory.split("/")}}


def go_template(text: str, params: dict[str, Any]) -> str:
    """The Go template actions gitops/ uses ({{.a.b}}, {{index .a.b N}}) with missingkey=error: anything else,
    or a missing key, fails the test instead of being guessed."""
    def action(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        index = re.fullmatch(r"index (\.[\w.]+) (\d+)", expr)
        ref = index.group(1) if index else expr
        if not re.fullmatch(r"(\.\w+)+", ref):
            raise AssertionError(f"unsupported template action {{{{{expr}}}}}")
        value: Any = params
        for key in ref[1:].split("."):
            value = value[key]  # KeyError: missingkey=error
        if index:
            value = value[int(index.group(2))]  # IndexError: Go's index fails too
        assert isinstance(value, str), (expr, value)
        return value
    return re.sub(r"\{\{(.*?)\}\}", action, text)


def directories(files: list[str]) -> set[str]:
    """Every directory of a repository holding ``files`` (relative to the repository), the root left out."""
    out = set()
    for name in files:
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            out.add(str(parent))
            parent = parent.parent
    return out


def applications(files: list[str]) -> list[dict[str, Any]]:
    """The Applications the ApplicationSets of gitops/ would generate over a repository holding ``files``."""
    dirs = directories(files)
    apps = []
    for appset in APPSETS:
        assert appset["spec"]["goTemplate"] is True
        assert "missingkey=error" in appset["spec"]["goTemplateOptions"]
        for generator in appset["spec"]["generators"]:
            entries = generator["git"]["directories"]
            for directory in sorted(dirs):
                if any(path_match(e["path"], directory) for e in entries if not e.get("exclude")) and not any(
                        path_match(e["path"], directory) for e in entries if e.get("exclude")):
                    params = path_params(directory)
                    template = appset["spec"]["template"]
                    rendered = yaml.safe_load(go_template(yaml.safe_dump(template), params))
                    apps.append(rendered)
    return apps


def check(files: list[str]) -> list[dict[str, Any]]:
    apps = applications(files)
    names = [app["metadata"]["name"] for app in apps]
    for name in names:
        assert is_subdomain(name), f"{name!r} is not a valid Application name"
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)
    dirs = directories(files)
    for app in apps:
        path = app["spec"]["source"]["path"]
        assert path in dirs
        assert not PurePosixPath(path).is_absolute()
        assert ".." not in path.split("/")
        assert any(f.startswith(path + "/") and "/" not in f[len(path) + 1:] for f in files), path  # has manifests
        assert re.fullmatch(LABEL, app["spec"]["destination"]["namespace"])
    return apps


def published(out: Path) -> list[str]:
    return [f"{PUBLISH_PATH}/{name}" for name in tree(out)]


def test_every_rendered_directory_gives_a_valid_unique_application(rendered: Path) -> None:
    files = published(rendered)
    apps = check(files)
    names = {app["metadata"]["name"] for app in apps}
    assert "fedrender.shop.orders" in names
    assert "fedrender-references.shop" in names
    covered = {app["spec"]["source"]["path"] for app in apps}
    instance_dirs = {str(PurePosixPath(f).parent) for f in files if f.startswith(f"{PUBLISH_PATH}/instances/")}
    reference_dirs = {str(PurePosixPath(f).parent) for f in files if f.startswith(f"{PUBLISH_PATH}/references/")}
    assert instance_dirs
    assert reference_dirs
    assert instance_dirs | reference_dirs == covered  # every rendered instance and reference is synced


def test_the_instance_applicationset_names_applications_as_the_composer_checks() -> None:
    (appset,) = [a for a in APPSETS if a["metadata"]["name"] == "fedrender-instances"]
    params = path_params(f"{PUBLISH_PATH}/instances/NS/NAME")
    assert go_template(appset["spec"]["template"]["metadata"]["name"], params) == APPLICATION_NAME.format(
        namespace="NS", name="NAME")


def test_names_that_differ_only_in_where_the_dash_is_get_different_applications() -> None:
    files = [f"{PUBLISH_PATH}/instances/a-b/c/statefulset-c.yaml",
             f"{PUBLISH_PATH}/instances/a/b-c/statefulset-b-c.yaml",
             f"{PUBLISH_PATH}/references/a-b/p.yaml", f"{PUBLISH_PATH}/references/a/p.yaml"]
    assert len(check(files)) == 4


def test_an_old_references_directory_would_be_refused_by_this_check() -> None:
    """The check can fail: the layout before references/ gave fedrender.shop._references."""
    with pytest.raises(AssertionError, match="_references"):
        check([f"{PUBLISH_PATH}/instances/shop/_references/propagationpolicy-secret-x.yaml"])


namespaces = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?\Z").filter(lambda s: s != "default")
instance_names = st.from_regex(r"\A[a-z]([-a-z0-9]{0,8}[a-z0-9])?\Z")


@settings(deadline=None, max_examples=6,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(namespaces, instance_names), min_size=1, max_size=4, unique=True))
def test_generated_namespaces_and_names_render_to_valid_unique_applications(
        tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, str]]) -> None:
    tmp = tmp_path_factory.mktemp("appset")
    specs = tmp / "specs.yaml"
    specs.write_text(yaml.safe_dump_all([mongodb({"namespace": ns, "name": name}, replicaset=1)
                                         for ns, name in pairs]))
    result = run(["render", "--specs", str(specs), "--clusters", str(CLUSTERS), "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.stderr
    apps = check(published(tmp / "out"))
    assert {APPLICATION_NAME.format(namespace=ns, name=name) for ns, name in pairs} <= {
        a["metadata"]["name"] for a in apps}


def test_an_instance_whose_application_name_would_be_too_long_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    pack = rules / "mongodb" / "pack.yaml"  # a pack that accepts any object name (the shipped ones stop at 52)
    pack.write_text(pack.read_text().replace("expression: metadata.name.matches('^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$')",
                                             "expression: 'true'"))
    specs = tmp_path / "specs.yaml"
    long_name = ".".join(["a" * 60] * 4)  # a valid object name of 243 characters
    specs.write_text(yaml.safe_dump(mongodb({"namespace": "shop", "name": long_name})))
    result = run(["render", "--specs", str(specs), "--clusters", str(CLUSTERS), "--rules", str(rules),
                  "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert re.search(r"specs\.yaml:\d+:\d+: error: metadata\.name: .*Argo CD Application name", result.stderr), \
        result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_root_application_syncs_platform_then_references_then_instances() -> None:
    root = yaml.safe_load((GITOPS / "root-application.yaml").read_text())
    assert root["spec"]["source"]["path"] == "gitops"
    include = root["spec"]["source"]["directory"]["include"].strip("{}").split(",")
    waves = {}
    for name in include:
        obj = yaml.safe_load((GITOPS / name).read_text())
        wave = obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
        waves[obj["kind"], obj["metadata"]["name"]] = int(wave)
    assert waves[("AppProject", "fedrender")] < waves[("Application", "fedrender-platform")] < waves[
        ("ApplicationSet", "fedrender-references")] < waves[("ApplicationSet", "fedrender-instances")]
    cm = yaml.safe_load((GITOPS / "argocd-cm.yaml").read_text())
    assert "resource.customizations.health.argoproj.io_Application" in cm["data"]  # waves wait for health


def test_the_rendered_crds_ask_before_argo_cd_prunes_or_deletes_them(rendered: Path) -> None:
    crds = [yaml.safe_load(p.read_text()) for p in rendered.rglob("customresourcedefinition-*.yaml")]
    assert crds
    for crd in crds:
        assert crd["metadata"]["annotations"]["argocd.argoproj.io/sync-options"] == "Prune=confirm,Delete=confirm"



def test_references_written_by_the_old_layout_are_pruned(tmp_path: Path) -> None:
    """An output rendered before references/ (instances/<ns>/_references/, owned by the state) migrates: the
    next render removes the old files and their directories and writes references/<ns>/."""
    out = tmp_path / "out"
    assert run(["render", *DEMO_ARGS, "--out", str(out)]).exit_code == 0
    state_path = out / ".fedrender" / "state.json"
    state = json.loads(state_path.read_text())
    moved = []
    for path in sorted((out / "references").rglob("*.yaml")):
        old = out / "instances" / path.parent.name / "_references" / path.name
        old.parent.mkdir(exist_ok=True)
        path.rename(old)
        moved.append(str(old.relative_to(out)))
    shutil.rmtree(out / "references")
    state["files"] = sorted([f for f in state["files"] if not f.startswith("references/")] + moved)
    state_path.write_text(json.dumps(state, indent=2, sort_keys=True))
    assert moved
    result = run(["render", *DEMO_ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"{len(moved)} removed" in result.stderr
    assert not list(out.rglob("_references"))
    again = tmp_path / "again"
    assert run(["render", *DEMO_ARGS, "--out", str(again)]).exit_code == 0
    assert tree(out) == tree(again)
