"""Zero inputs are not an instruction to delete everything (issue 10, section 5).

Specs that define no instance (an empty folder, a typo in ``--specs``, files with a suffix fedrender
doesn't read) would render an output without a single instance, and writing it prunes every file of the
last render, the CRDs included. That is refused unless the user says ``--allow-empty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fedrender.models.diagnostics import Diagnostic, InputError, Location
from fedrender.pipeline.load import SPEC_SUFFIXES, spec_files
from fedrender.pipeline.render import RenderResult

_SHOWN = 5


def refuse_empty(specs: Sequence[Path], result: RenderResult, allow_empty: bool) -> None:
    """InputError located at the ``--specs`` paths when ``result`` holds no instance and ``allow_empty`` is
    False; the message names the files read and the files skipped (and why)."""
    if result.instances or allow_empty:
        return
    read, skipped = spec_files(specs)
    text = f"the specs define no instance: read {_count(read)}"
    if skipped:
        text += f"; skipped {_count(skipped)} (fedrender reads {', '.join(SPEC_SUFFIXES)})"
    text += ("; writing that would remove every file of the last render, the CRDs included. Check --specs, or "
             "pass --allow-empty to remove everything")
    raise InputError([Diagnostic(text, Location(", ".join(str(p) for p in specs)))])


def _count(paths: Sequence[Path]) -> str:
    if not paths:
        return "no file"
    names = ", ".join(str(p) for p in paths[:_SHOWN])
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''} ({names}{more})"
