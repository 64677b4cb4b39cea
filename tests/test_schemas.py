"""The JSON Schemas in schemas/ are the ones the models generate (regenerate with tests/gen_schemas.py)."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.gen_schemas import generated


def test_generated_schemas_are_current() -> None:
    for name, text in generated().items():
        assert (ROOT / "schemas" / name).read_text() == text, f"schemas/{name} is stale: run tests/gen_schemas.py"
