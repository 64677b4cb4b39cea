"""Render sequences of MongoDB version changes (issue 14 §4): each render's state feeds the next, and the snapshot
holds the MongoReplicaSet with the featureCompatibilityVersion the reconciler reports (or none)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedrender.day2 import versions
from fedrender.models.diagnostics import InputError
from fedrender.models.state import PATH as STATE_FILE
from fedrender.models.state import State
from fedrender.pipeline.render import Inputs, RenderResult, render
from tests.observed import aggregated, observed, snapshot
from tests.topology import cluster_doc

CLUSTERS = [cluster_doc("a", "eu"), cluster_doc("b", "us"), cluster_doc("c", "ap")]
ANNOTATION = "fedrender.io/feature-compatibility-version"
MRS = "instances/team/db/mongoreplicaset-db.yaml"
STS = "instances/team/db/statefulset-db.yaml"


@dataclass
class VersionWorld:
    """team/db with 3 members; ``fcv`` is what the reconciler set (observed), "" while nothing reports it."""

    tmp: Path
    state: State | None = None
    mrs: dict[str, Any] | None = None
    generation: int = 0
    fcv: str = ""
    target: str = ""
    renders: int = 0

    def render(self, image: str, fcv: str | None = None, observe: bool = True,
               overlay: dict[str, Any] | None = None) -> RenderResult:
        """Render ``image`` (with the FCV annotation ``fcv`` unless None); the snapshot holds the last rendered
        MongoReplicaSet with a current status reporting ``self.fcv`` when ``observe``."""
        self.renders += 1
        meta: dict[str, Any] = {"name": "db", "namespace": "team"}
        if fcv is not None:
            meta["annotations"] = {ANNOTATION: fcv}
        specs = self.tmp / f"specs-{self.renders}.yaml"
        specs.write_text(yaml.safe_dump({
            "apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB", "metadata": meta,
            "spec": {"replicaset": 3, "imageSetting": {"image": image},
                     "resource": {"requests": {"cpu": "1", "memory": "1Gi"}}}}, sort_keys=False))
        objects = []
        if self.mrs is not None and observe:
            extra = {k: v for k, v in (("featureCompatibilityVersion", self.fcv), ("fcvTargetVersion", self.target))
                     if v}
            objects.append(observed(self.mrs, self.generation,
                                    aggregated(self.mrs, self.generation, self.generation, **extra)))
        clusters = snapshot(CLUSTERS, self.tmp / f"snapshot-{self.renders}.yaml", *objects)
        overlays = []
        if overlay is not None:
            folder = self.tmp / f"overlay-{self.renders}"
            folder.mkdir()
            (folder / "values.yaml").write_text(yaml.safe_dump({"values": overlay}))
            overlays.append(folder)
        result = render(Inputs([specs], clusters, overlays=overlays), self.state)
        self.state = State.model_validate_json(result.files[STATE_FILE])
        mrs = yaml.safe_load(result.files[MRS])
        if self.mrs is None or mrs["spec"] != self.mrs["spec"]:
            self.generation += 1
        self.mrs = mrs
        return result

    def reconcile(self) -> None:
        """The primary's reconciler sets the FCV the roster asks for (every member runs the rendered release)."""
        assert self.mrs is not None
        if self.mrs["spec"]["featureCompatibilityVersion"]:
            self.fcv = self.mrs["spec"]["featureCompatibilityVersion"]

    @property
    def image(self) -> str:
        assert self.state is not None
        return self.state.instances["team/db"].image

    @property
    def version(self) -> str:
        assert self.mrs is not None
        return str(self.mrs["spec"]["version"])


def rendered_image(result: RenderResult) -> str:
    sts = yaml.safe_load(result.files[STS])
    return str(sts["spec"]["template"]["spec"]["containers"][0]["image"])


def refused(world: VersionWorld, image: str, fcv: str | None = None) -> str:
    before = world.state
    with pytest.raises(InputError) as caught:
        world.render(image, fcv)
    assert world.state is before
    return "\n".join(d.render() for d in caught.value.diagnostics if d.severity == "error")


def started(tmp: Path, image: str = "mongo:6.0", fcv: str | None = None) -> VersionWorld:
    """A converged instance on ``image``, its FCV observed at the image's release."""
    world = VersionWorld(tmp)
    world.render(image, fcv, observe=False)
    world.fcv = world.version
    return world


def test_the_roster_and_the_state_carry_the_release_and_the_fcv(tmp_path: Path) -> None:
    world = VersionWorld(tmp_path)
    result = world.render("mongo:7.0.14", "7.0")
    assert world.mrs is not None
    assert world.state is not None
    assert (world.mrs["spec"]["version"], world.mrs["spec"]["featureCompatibilityVersion"]) == ("7.0", "7.0")
    instance = world.state.instances["team/db"]
    assert (instance.version, instance.featureCompatibilityVersion) == ("7.0", "7.0")
    assert instance.image == "docker.io/library/mongo:7.0.14"
    assert result.instances[0].explain()["version"] == "7.0"
    (tmp_path / "x").mkdir()
    assert VersionWorld(tmp_path / "x").render("mongo:7.0").instances[0].feature_compatibility_version == ""


def test_6_0_to_8_0_is_refused_with_the_supported_path(tmp_path: Path) -> None:
    world = started(tmp_path)
    message = refused(world, "mongo:8.0")
    assert "specs-2.yaml:" in message
    assert "spec.imageSetting.image" in message
    assert "one release at a time: 6.0 -> 8.0 skips 7.0" in message
    assert ("Path: featureCompatibilityVersion 6.0; wait until the status shows featureCompatibilityVersion 6.0; "
            "image mongo:7.0; wait until the status shows every member on 7.0; featureCompatibilityVersion 7.0; "
            "wait until the status shows featureCompatibilityVersion 7.0; image mongo:8.0; wait until the status "
            "shows every member on 8.0; featureCompatibilityVersion 8.0") in message


def test_6_0_to_7_0_then_fcv_7_0_then_8_0_renders_step_by_step(tmp_path: Path) -> None:
    world = started(tmp_path, fcv="6.0")
    step = world.render("mongo:7.0", "6.0")
    assert world.version == "7.0"
    assert rendered_image(step) == "docker.io/library/mongo:7.0"
    assert step.instances[0].allowed == ["the image change to 7.0: the observed featureCompatibilityVersion is 6.0"]
    world.render("mongo:7.0", "7.0")
    assert world.mrs is not None
    assert world.mrs["spec"]["featureCompatibilityVersion"] == "7.0"
    world.reconcile()
    step = world.render("mongo:8.0", "7.0")
    assert world.version == "8.0"
    assert rendered_image(step) == "docker.io/library/mongo:8.0"
    world.render("mongo:8.0", "8.0")
    world.reconcile()
    assert (world.version, world.fcv) == ("8.0", "8.0")


def test_image_and_fcv_in_one_render_are_refused(tmp_path: Path) -> None:
    world = started(tmp_path, fcv="6.0")
    message = refused(world, "mongo:7.0", "7.0")
    assert "changes the image (6.0 -> 7.0) and featureCompatibilityVersion (6.0 -> 7.0" in message
    assert "change one at a time: the image first" in message
    world.fcv = ""  # nothing observed: the image would wait, and 7.0 is above the 6.0 binaries it keeps
    assert "cannot be set on MongoDB 6.0 binaries" in refused(world, "mongo:7.0", "7.0")


def test_fcv_above_the_binary_is_refused(tmp_path: Path) -> None:
    world = VersionWorld(tmp_path)
    message = refused(world, "mongo:6.0", "7.0")
    assert "metadata.annotations.fedrender.io/feature-compatibility-version" in message
    assert "featureCompatibilityVersion 7.0 (annotation fedrender.io/feature-compatibility-version) cannot be " \
           "set on MongoDB 6.0 binaries, which accept 6.0 or 5.0" in message
    assert "specs-1.yaml:" in message
    with pytest.raises(InputError) as caught:
        world.render("mongo:8.0", "6.0")
    assert "accept 8.0 or 7.0" in str(caught.value)


def test_an_fcv_from_the_overlay_is_checked_at_the_overlay(tmp_path: Path) -> None:
    world = VersionWorld(tmp_path)
    with pytest.raises(InputError) as caught:
        world.render("mongo:6.0", overlay={"mongodb": {"featureCompatibilityVersion": "8.0"}})
    found = [d for d in caught.value.diagnostics if "featureCompatibilityVersion 8.0" in d.message]
    assert found
    assert found[0].location is not None
    assert found[0].location.file.endswith("values.yaml")
    assert found[0].field_path == "values.mongodb.featureCompatibilityVersion"
    result = world.render("mongo:6.0", overlay={"mongodb": {"featureCompatibilityVersion": "5.0"}})
    assert result.instances[0].feature_compatibility_version == "5.0"


def test_an_upgrade_without_observed_fcv_holds_the_image(tmp_path: Path) -> None:
    world = started(tmp_path, "mongo:7.0")
    world.fcv = "6.0"
    held = world.render("mongo:8.0")
    assert rendered_image(held) == "docker.io/library/mongo:7.0"
    assert world.version == "7.0"
    assert held.instances[0].waiting == [
        "the image change to 8.0 waits for featureCompatibilityVersion 7.0 (observed: 6.0); ask for it first: "
        "featureCompatibilityVersion 7.0 (values.mongodb.featureCompatibilityVersion (default))"]
    assert world.image == "docker.io/library/mongo:7.0"
    blind = world.render("mongo:8.0", observe=False)
    assert rendered_image(blind) == "docker.io/library/mongo:7.0"
    assert "no current observed state" in blind.instances[0].waiting[0]
    world.fcv, world.target = "7.0", "7.0"  # an FCV change half-done: not yet
    assert rendered_image(world.render("mongo:8.0")) == "docker.io/library/mongo:7.0"
    world.target = ""
    assert rendered_image(world.render("mongo:8.0")) == "docker.io/library/mongo:8.0"


def test_a_held_upgrade_lets_the_fcv_go_first(tmp_path: Path) -> None:
    world = started(tmp_path, "mongo:7.0")
    world.fcv = "6.0"
    world.render("mongo:8.0")
    held = world.render("mongo:8.0", "7.0")  # the image still waits; the FCV it waits for goes on
    assert rendered_image(held) == "docker.io/library/mongo:7.0"
    assert world.mrs is not None
    assert world.mrs["spec"]["featureCompatibilityVersion"] == "7.0"
    world.reconcile()
    assert rendered_image(world.render("mongo:8.0", "7.0")) == "docker.io/library/mongo:8.0"


def test_a_downgrade_needs_the_lower_fcv_first(tmp_path: Path) -> None:
    world = started(tmp_path, "mongo:6.0", "6.0")
    message = refused(world, "mongo:5.0", "6.0")
    assert "a downgrade from 6.0 to 5.0 lowers featureCompatibilityVersion first" in message
    held = world.render("mongo:5.0", "5.0")  # FCV first: the image waits for it
    assert rendered_image(held) == "docker.io/library/mongo:6.0"
    assert world.mrs is not None
    assert world.mrs["spec"]["featureCompatibilityVersion"] == "5.0"
    world.reconcile()
    assert rendered_image(world.render("mongo:5.0", "5.0")) == "docker.io/library/mongo:5.0"


def test_a_binary_downgrade_from_7_0_is_refused(tmp_path: Path) -> None:
    world = started(tmp_path, "mongo:7.0", "7.0")
    message = refused(world, "mongo:6.0", "6.0")
    assert "from 7.0 on, a binary downgrade needs assistance from MongoDB support" in message
    assert "only featureCompatibilityVersion may come down, to 6.0" in message
    world.render("mongo:7.0", "6.0")  # the FCV alone may come down
    assert world.mrs is not None
    assert world.mrs["spec"]["featureCompatibilityVersion"] == "6.0"


def test_a_digest_only_image_warns_that_checks_cannot_run(tmp_path: Path) -> None:
    result = VersionWorld(tmp_path).render("mongo@sha256:" + "a" * 64)
    assert any("names no MongoDB release" in w and "upgrade checks cannot run" in w
               for w in result.instances[0].warnings)
    assert result.instances[0].version == ""


def test_a_rapid_release_is_refused_an_old_one_renders_unchecked(tmp_path: Path) -> None:
    assert "is a rapid release" in refused(VersionWorld(tmp_path), "mongo:7.1")
    world = VersionWorld(tmp_path)
    world.render("mongo:3.6")  # FedState's default image: renders (the pack warns it is past its end of life)
    result = world.render("mongo:4.4")
    assert any("cannot check the change from MongoDB 3.6 to 4.4" in w for w in result.instances[0].warnings)


@pytest.mark.parametrize("old", ["4.4", "7.0", "8.0"])
def test_a_binary_older_than_the_release_train_is_refused_on_a_known_release(tmp_path: Path, old: str) -> None:
    """8.0 -> 4.2 (or 3.6) is a binary downgrade past every supported path: refused, never rendered unchecked."""
    world = VersionWorld(tmp_path)
    world.render(f"mongo:{old}")
    assert f"is older than 4.4: a 4.2 binary cannot start on the {old} set's data" in refused(world, "mongo:4.2")


# --- the property: every accepted sequence is a documented path

@dataclass
class Deployment:
    """What runs: the binaries' release and the data's featureCompatibilityVersion, moved as the reconcilers
    would (binaries roll to the rendered release; the FCV is set once every binary runs the rendered one)."""

    binary: str
    fcv: str

    def roll(self, rendered: versions.Decision) -> None:
        if rendered.version != self.binary:
            # mongod starts on data of FCV X only as a binary of X or the release after it.
            assert self.fcv in versions.allowed_fcvs(rendered.version), (self, rendered)
            assert abs(versions.RELEASES.index(rendered.version) - versions.RELEASES.index(self.binary)) == 1
            if versions.later(self.binary, rendered.version):
                assert versions.later(versions.SUPPORT_FROM, self.binary), "a binary downgrade from 7.0"
            self.binary = rendered.version
        if rendered.fcv and rendered.fcv != self.fcv:
            assert rendered.fcv in versions.allowed_fcvs(self.binary)  # setFeatureCompatibilityVersion accepts it
            self.fcv = rendered.fcv


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from(versions.RELEASES[:-1]),
       requests=st.lists(st.tuples(st.sampled_from(versions.RELEASES), st.sampled_from(["", *versions.RELEASES]),
                                   st.booleans()), min_size=1, max_size=8))
def test_every_accepted_sequence_is_a_documented_path(start: str, requests: list[tuple[str, str, bool]]) -> None:
    """Whatever a person asks, in any order, with or without a current observation: what is rendered moves the
    binaries one release at a time, only onto data whose FCV they can start on, never down from 7.0, and asks
    only for an FCV the running binaries accept."""
    running = Deployment(start, start)
    before = versions.Before(start, f"mongo:{start}", "")
    for release, fcv, usable in requests:
        seen = versions.Seen(usable, running.fcv if usable else "")
        decision = versions.decide(versions.Request(release, f"mongo:{release}", fcv, "annotation"), before, seen)
        if decision.problems:
            continue  # refused: nothing rendered, nothing changes
        running.roll(decision)
        before = versions.Before(decision.version, decision.image, decision.fcv)


def test_an_fcv_annotation_that_names_no_release_is_refused_at_it(tmp_path: Path) -> None:
    message = refused(VersionWorld(tmp_path), "mongo:7.0", "7")
    assert "metadata.annotations.fedrender.io/feature-compatibility-version" in message
    assert "featureCompatibilityVersion '7' (annotation fedrender.io/feature-compatibility-version) is not a " \
           "MongoDB release" in message


@pytest.mark.parametrize(("edit", "problem"), [
    (("image: image", "image: antiAffinityPreferred"), "lifecycle.image must name a string variable of the pack "
                                                       "(it is of type dyn)"),
    (("setting: featureCompatibilityVersion", "setting: startupSeconds"),
     "lifecycle.featureCompatibilityVersion.setting must name a string setting of the pack (it is a integer"),
    (("version: versionMajorMinor(imageTag(variables.image))", "version: variables.image.size()"), "string"),
])
def test_a_lifecycle_block_is_checked_when_the_pack_loads(tmp_path: Path, edit: tuple[str, str],
                                                          problem: str) -> None:
    import shutil

    from fedrender.rules.pack import load_pack
    pack = tmp_path / "mongodb"
    shutil.copytree(Path(__file__).parent.parent / "rules" / "mongodb", pack)
    text = (pack / "pack.yaml").read_text()
    assert text.count(edit[0]) == 1
    (pack / "pack.yaml").write_text(text.replace(edit[0], edit[1]))
    with pytest.raises(InputError) as caught:
        load_pack(pack)
    assert any(problem in d.render() and "lifecycle" in d.render() for d in caught.value.diagnostics), \
        [d.render() for d in caught.value.diagnostics]
