"""Write the JSON Schemas of fedrender's inputs into schemas/ (for editors); tests check they are current."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from fedrender.models.cluster import Cluster
from fedrender.models.overlay import Overlay
from fedrender.models.rulepack import RulePack
from fedrender.models.ruletests import PackTests
from fedrender.models.state import State
from fedrender.pipeline.load import load_packs
from fedrender.pipeline.schemas import file_name, object_or_list_schema, pack_schema, schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS: dict[str, type[BaseModel]] = {
    "rulepack.schema.json": RulePack,
    "state.schema.json": State,
    "overlay.schema.json": Overlay,
    "ruletests.schema.json": PackTests,
}


def generated() -> dict[str, str]:
    """Every schema file by name: fedrender's own inputs and the input kind of every shipped rule pack."""
    schemas = {name: schema(model, name) for name, model in SCHEMAS.items()}
    schemas["cluster.schema.json"] = object_or_list_schema(Cluster, "cluster.schema.json")
    schemas.update({file_name(pack.kind): pack_schema(pack) for pack in load_packs(None)})
    return {name: json.dumps(data, indent=2, sort_keys=True) + "\n" for name, data in sorted(schemas.items())}


if __name__ == "__main__":
    for name, text in generated().items():
        (ROOT / "schemas" / name).write_text(text, encoding="utf-8")
        print(f"wrote schemas/{name}", file=sys.stderr)
