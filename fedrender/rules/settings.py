"""A pack's settings as overlays set them: ``values.<pack name>.<setting>``, checked against the pack's
``settings`` declarations, and the values rules read as ``settings.<name>``.

Overlay ``values`` are otherwise free-form; the key named after a pack belongs to that pack, so every key
under it must be one of its settings and every value must have the declared type (no coercion, as the API
server: ``"600"`` is not an integer) and lie within its bounds. Problems are reported at the overlay
file:line:col that sets the value.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from fedrender.models.diagnostics import Diagnostic, Location
from fedrender.models.overlay import Overlay
from fedrender.models.rulepack import Setting, setting_problem


def schema(settings: Sequence[Setting]) -> dict[str, Any]:
    """The JSON Schema of ``settings`` as one object (its CEL type: ``settings.<name>`` is typed)."""
    return {"type": "object", "properties": {s.name: {"type": s.type} for s in settings}}


def problems(pack: str, settings: Sequence[Setting], overlay: Overlay) -> list[Diagnostic]:
    """Every problem with ``values.<pack>`` in ``overlay``, at the overlay line that sets it; and with
    ``values.<formerly>`` of a setting that has moved under the pack (each with a warning to move it)."""
    out = _former_keys(pack, settings, overlay)
    given = overlay.values.get(pack)
    if given is None:
        return out
    where = f"values.{pack}"
    if not isinstance(given, Mapping):
        return [*out, Diagnostic(f"{where} holds the settings of pack {pack}, a mapping of setting names to values "
                                 f"({_names(settings)}), not a {type(given).__name__}",
                                 overlay.source("values", pack), where)]
    declared = {s.name: s for s in settings}
    for key, value in sorted(given.items()):
        location = overlay.source("values", pack, key)
        setting = declared.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, list(declared), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            out.append(Diagnostic(f"pack {pack} has no setting {key!r}{hint} (its settings: {_names(settings)})",
                                  location, f"{where}.{key}"))
            continue
        out += _checked(pack, setting, value, location, f"{where}.{key}")
    return out


def _checked(pack: str, setting: Setting, value: Any, location: Location | None, where: str) -> list[Diagnostic]:
    problem = setting_problem(setting, value)
    if not problem:
        return []
    return [Diagnostic(f"{problem} ({setting.description or 'see the settings of pack ' + pack})", location, where)]


def _former_keys(pack: str, settings: Sequence[Setting], overlay: Overlay) -> list[Diagnostic]:
    """``values.<formerly>`` of each setting that declares one: checked as the setting (when the pack's own key
    does not set it), and a warning that names the key to write instead."""
    out = []
    given = overlay.values.get(pack)
    for setting in settings:
        if not setting.formerly or setting.formerly not in overlay.values:
            continue
        where, location = f"values.{setting.formerly}", overlay.source("values", setting.formerly)
        shadowed = isinstance(given, Mapping) and setting.name in given
        if not shadowed:
            out += _checked(pack, setting, overlay.values[setting.formerly], location, where)
        out.append(Diagnostic(f"{where} is deprecated: write values.{pack}.{setting.name}, the setting of pack "
                              f"{pack}" + (f" (it is set too and wins: {where} is ignored)" if shadowed else ""),
                              location, where, severity="warning"))
    return out


def misnamed_packs(packs: Sequence[str], overlay: Overlay) -> list[Diagnostic]:
    """A warning for each mapping under ``values`` whose key looks like a pack's name but is none
    (``values.mongdb``, ``values.MongoDB``): its settings would be silently left at their defaults."""
    out = []
    for key, value in sorted(overlay.values.items()):
        if key in packs or not isinstance(value, Mapping):
            continue
        close = [p for p in packs if p.lower() == key.lower()] or difflib.get_close_matches(key, list(packs), n=1,
                                                                                            cutoff=0.75)
        if close:
            out.append(Diagnostic(f"values.{key} is not the settings of any pack (packs: {', '.join(sorted(packs))}); "
                                  f"did you mean values.{close[0]}? Until then its keys change nothing",
                                  overlay.source("values", key), f"values.{key}", severity="warning"))
    return out


def values(pack: str, settings: Sequence[Setting], overlay: Overlay) -> dict[str, Any]:
    """Each setting's value: the overlay's (already checked by :func:`problems`; ``values.<pack>.<name>``, else
    ``values.<formerly>``) or its default."""
    given = overlay.values.get(pack)
    chosen = given if isinstance(given, Mapping) else {}
    return {s.name: chosen.get(s.name, overlay.values.get(s.formerly, s.default) if s.formerly else s.default)
            for s in settings}


def _names(settings: Sequence[Setting]) -> str:
    return ", ".join(s.name for s in settings) or "none"
