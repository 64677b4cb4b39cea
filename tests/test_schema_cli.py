"""Editor support: every JSON Schema in schemas/ has an $id naming its file, every shipped pack's input kind
has one, and `fedrender schema KIND` prints it."""

from __future__ import annotations

import json

import pytest

from fedrender.pipeline.load import load_packs
from tests.conftest import ROOT, run

GENERATED = sorted((ROOT / "schemas").glob("*.schema.json"))


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.name)
def test_every_schema_has_an_id_naming_its_file(path: object) -> None:
    data = json.loads(path.read_text())  # type: ignore[attr-defined]
    assert data["$id"].endswith("/" + path.name)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(p.kind for p in load_packs(None)))
def test_every_pack_kind_has_a_schema_that_fedrender_schema_prints(kind: str) -> None:
    published = json.loads((ROOT / "schemas" / f"{kind.lower()}.schema.json").read_text())
    for spelling in (kind, kind.lower()):
        result = run(["schema", spelling])
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout) == published
    assert published["title"] == kind


def test_an_unknown_kind_is_a_usage_error_naming_the_known_ones() -> None:
    result = run(["schema", "MultiCloudPostgres"])
    assert result.exit_code == 2
    assert "MultiCloudMongoDB" in result.stderr
    assert "MultiCloudPostgres" in result.stderr
