"""Pack settings: what an overlay may set as ``values.<pack>.<name>``, checked at the overlay's file:line:col and
typed in CEL as ``settings.<name>``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fedrender.models.diagnostics import InputError
from fedrender.models.overlay import Overlay
from fedrender.models.rulepack import Setting
from fedrender.rules import settings as pack_settings
from fedrender.rules.pack import load_pack
from tests import karmada_image
from tests.conftest import CLUSTERS, ROOT, run
from tests.refusal import mongodb, sandbox
from tests.sandbox import picture

MONGODB = load_pack(ROOT / "rules" / "mongodb")
DECLARED = {s.name: s for s in MONGODB.settings}


def valid(setting: Setting, value: Any) -> bool:
    """The declaration, read independently: the type (a bool is no integer), the bounds, the enum."""
    if setting.type == "integer":
        return type(value) is int and (setting.minimum is None or value >= setting.minimum) and \
            (setting.maximum is None or value <= setting.maximum)
    if setting.type == "boolean":
        return type(value) is bool
    if setting.format == "image" and type(value) is str and value:
        try:
            karmada_image.parse(value)
        except ValueError:
            return False
    return type(value) is str and (not setting.enum or value in setting.enum)


values = st.one_of(st.integers(-10, 10**6), st.booleans(), st.none(), st.floats(allow_nan=False),
                   st.sampled_from(["preferred", "required", "Required", "600", "", "yes", "r.example.com/x:1",
                                    "[::1]:5000/x@sha256:" + "a" * 64, "https://r.example.com/x", "x y"]),
                   st.lists(st.integers(), max_size=2))


@settings(deadline=None, max_examples=400)
@given(name=st.sampled_from(sorted(DECLARED)), value=values)
def test_a_setting_takes_exactly_what_its_declaration_allows(name: str, value: Any) -> None:
    overlay = Overlay.model_validate({"values": {"mongodb": {name: value}}})
    problems = pack_settings.problems("mongodb", MONGODB.settings, overlay)
    assert (problems == []) is valid(DECLARED[name], value), (value, problems)
    assert all(p.field_path == f"values.mongodb.{name}" for p in problems)
    if not problems:
        assert pack_settings.values("mongodb", MONGODB.settings, overlay)[name] == value


def test_defaults_apply_when_no_overlay_sets_them() -> None:
    assert pack_settings.values("mongodb", MONGODB.settings, Overlay()) == {
        "terminationGracePeriodSeconds": 600, "podAntiAffinity": "preferred", "startupSeconds": 7200,
        "reconcilerImage": "", "featureCompatibilityVersion": ""}


@pytest.mark.parametrize(("given", "message"), [
    ({"terminationGracePeriodSeconds": "600"}, "expected an integer, got a string '600'; write 600 without quotes"),
    ({"terminationGracePeriodSeconds": 10}, "10 is below the minimum 30"),
    ({"terminationGracePeriodSeconds": 600000}, "600000 is above the maximum 86400"),
    ({"terminationGracePeriodSecond": 600}, "has no setting 'terminationGracePeriodSecond'; did you mean "
                                            "'terminationGracePeriodSeconds'?"),
    ({"podAntiAffinity": "Required"}, "'Required' is not one of preferred, required"),
    ({"startupSeconds": True}, "expected an integer, got a boolean true"),
])
def test_a_wrong_setting_is_refused_at_its_overlay_line(given: dict[str, Any], message: str) -> None:
    with sandbox() as box:
        overlay = box.write("overlay/settings.yaml", {"values": {"mongodb": given}})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        result = box.render(spec, "--overlay", str(overlay.parent))
        box.assert_refused(result, before, overlay, f"values.mongodb.{next(iter(given))}: ")
        assert message in result.stderr
        assert "overlay/settings.yaml:3:" in result.stderr  # the line of the key, under values.mongodb


def test_the_settings_of_a_pack_are_a_mapping() -> None:
    with sandbox() as box:
        overlay = box.write("overlay/settings.yaml", {"values": {"mongodb": 600}})
        spec = box.write("spec.yaml", mongodb())
        before = picture(box.root)
        result = box.render(spec, "--overlay", str(overlay.parent))
        box.assert_refused(result, before, overlay, "values.mongodb: ")
        assert "a mapping of setting names to values (terminationGracePeriodSeconds, podAntiAffinity" in result.stderr


def test_other_values_stay_free_form() -> None:
    with sandbox() as box:
        overlay = box.write("overlay/values.yaml", {"values": {"theirs": "r.example.com/x:1", "mine": [1]}})
        spec = box.write("spec.yaml", mongodb())
        assert box.render(spec, "--overlay", str(overlay.parent)).exit_code == 0


@pytest.mark.parametrize(("declaration", "message"), [
    ({"name": "x", "type": "integer", "default": "1"}, "default: expected an integer, got a string '1'"),
    ({"name": "x", "type": "integer", "default": 1, "minimum": 2}, "default: 1 is below the minimum 2"),
    ({"name": "x", "type": "string", "default": "a", "minimum": 2}, "minimum and maximum bound integer settings"),
    ({"name": "x", "type": "boolean", "default": True, "enum": ["a"]}, "enum lists the values of a string setting"),
    ({"name": "x", "type": "string", "default": "c", "enum": ["a", "b"]}, "default: 'c' is not one of a, b"),
    ({"name": "X", "type": "string", "default": "a"}, "String should match pattern"),
])
def test_a_setting_declaration_must_be_consistent(declaration: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Setting.model_validate(declaration)


def _pack_copy(tmp_path: Path, edit: Any) -> Path:
    pack = tmp_path / "mongodb"
    shutil.copytree(ROOT / "rules" / "mongodb", pack)
    path = pack / "pack.yaml"
    path.write_text(edit(path.read_text()), encoding="utf-8")
    return pack


def test_settings_are_typed_in_rules(tmp_path: Path) -> None:
    rule = ("\n    - {name: grace, expression: 'settings.terminationGracePeriodSecond > 0', message: x}\n")
    pack = _pack_copy(tmp_path, lambda text: text.replace("\n  validations:\n", "\n  validations:" + rule, 1))
    with pytest.raises(InputError) as caught:
        load_pack(pack)
    problem = caught.value.diagnostics[0]
    assert "undefined field 'terminationGracePeriodSecond'" in problem.message
    assert problem.location is not None
    assert problem.location.file.endswith("pack.yaml")
    assert problem.caret_col > 0


def test_a_setting_is_declared_once(tmp_path: Path) -> None:
    twice = "\n    - {name: startupSeconds, type: integer, default: 60}\n"
    pack = _pack_copy(tmp_path, lambda text: text.replace("\n  # Computed once per instance", twice +
                                                          "\n  # Computed once per instance", 1))
    data = yaml.safe_load((pack / "pack.yaml").read_text())
    assert [s["name"] for s in data["spec"]["settings"]].count("startupSeconds") == 2
    with pytest.raises(InputError, match="setting 'startupSeconds' is declared twice"):
        load_pack(pack)


def test_explain_shows_the_settings_in_effect() -> None:
    with sandbox() as box:
        overlay = box.write("overlay/settings.yaml", {"values": {"mongodb": {"podAntiAffinity": "required"}}})
        spec = box.write("spec.yaml", mongodb())
        args = ["explain", "--specs", str(spec), "--clusters", str(CLUSTERS), "--overlay", str(overlay.parent)]
        text = run(args)
        assert text.exit_code == 0, text.stderr
        assert 'settings: featureCompatibilityVersion="", podAntiAffinity="required", reconcilerImage="", ' \
            'startupSeconds=7200, terminationGracePeriodSeconds=600' in text.stdout
        data = json.loads(run([*args, "-o", "json"]).stdout)
        assert data["instances"][0]["settings"] == {"featureCompatibilityVersion": "",
                                                    "podAntiAffinity": "required", "reconcilerImage": "",
                                                    "startupSeconds": 7200, "terminationGracePeriodSeconds": 600}


@pytest.mark.parametrize("key", ["mongdb", "MongoDB", "mongodb-", "redsi"])
def test_a_misspelt_pack_name_under_values_is_warned_about(key: str) -> None:
    """``values.mongdb`` would leave every setting at its default without a word: render says so, at its line."""
    with sandbox() as box:
        overlay = box.write("overlay/settings.yaml", {"values": {key: {"terminationGracePeriodSeconds": 900},
                                                                 "free-form": {"kept": True}}})
        spec = box.write("spec.yaml", mongodb())
        result = box.render(spec, "--overlay", str(overlay.parent))
        assert result.exit_code == 0, result.stderr
        warned = [line for line in result.stderr.splitlines() if f"values.{key} is not the settings" in line]
        assert len(warned) == 1, result.stderr
        assert "overlay/settings.yaml:2:" in warned[0]
        assert "did you mean values." in warned[0]
        assert "values.free-form" not in result.stderr


def test_the_shipped_platforms_read_only_typed_overlay_inputs() -> None:
    """What a pack's platform templates and platformChecks read from an overlay is type-checked and located at the
    overlay: a setting (values.<pack>.<name>) or a typed overlay field, never free-form overlay.values (a wrong
    value there surfaced as an internal CEL error in the installed pack, or rendered as image: '5')."""
    for pack_yaml in sorted((ROOT / "rules").glob("*/pack.yaml")):
        spec = yaml.safe_load(pack_yaml.read_text())["spec"]
        sources = [(pack_yaml.parent / t["file"]).read_text() for t in spec.get("platform", [])]
        sources += [json.dumps(check) for check in spec.get("platformChecks", [])]
        assert not [s for s in sources if "overlay.values" in s], pack_yaml
