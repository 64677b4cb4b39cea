"""Write the JSON Schemas of fedrender's inputs into schemas/ (for editors); tests check they are current."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fedrender.pipeline.load import load_packs
from fedrender.pipeline.schemas import builtin_schemas, file_name, pack_schema

ROOT = Path(__file__).resolve().parent.parent


def generated() -> dict[str, str]:
    """Every schema file by name: fedrender's own inputs and the input kind of every shipped rule pack."""
    schemas = {file_name(name): data for name, data in builtin_schemas().items()}
    schemas.update({file_name(pack.kind): pack_schema(pack) for pack in load_packs(None)})
    return {name: json.dumps(data, indent=2, sort_keys=True) + "\n" for name, data in sorted(schemas.items())}


if __name__ == "__main__":
    for name, text in generated().items():
        target = ROOT / "schemas" / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote schemas/{name}", file=sys.stderr)
