"""Templates: whole-value and interpolated ${...}, $when, null dropping, and the $${ escape."""

from __future__ import annotations

from fedrender.cel.engine import Environment
from fedrender.cel.template import Template
from fedrender.cel.types import TypeRegistry
from fedrender.models.diagnostics import Diagnostic
from fedrender.models.source import load_text

ENV = Environment(TypeRegistry(), {"name": "string", "n": "int", "on": "bool"})
SOURCE = """\
kind: ConfigMap
metadata:
  name: ${name + '-config'}
data:
  count: ${n}
  greeting: hello ${name}, you have ${n} members
  script: |
    ORD="$${POD_NAME##*-}"
    exec server --name ${name} --ordinal "$${ORD}"
  optional: >-
    ${on ? dyn('yes') : null}
  items:
    - $when: ${on}
      value: only when on
    - value: always
"""


def render(**data: object) -> object:
    problems: list[Diagnostic] = []
    template = Template(load_text(SOURCE, "t.yaml")[0], ENV, "t", problems)
    assert problems == []
    return template.render(data)


def test_values_interpolation_escapes_and_conditions() -> None:
    assert render(name="db", n=3, on=True) == {
        "kind": "ConfigMap",
        "metadata": {"name": "db-config"},
        "data": {
            "count": 3,
            "greeting": "hello db, you have 3 members",
            "script": 'ORD="${POD_NAME##*-}"\nexec server --name db --ordinal "${ORD}"\n',
            "optional": "yes",
            "items": [{"value": "only when on"}, {"value": "always"}],
        },
    }


def test_nulls_and_false_conditions_drop_fields_and_items() -> None:
    data = render(name="db", n=1, on=False)
    assert isinstance(data, dict)
    assert "optional" not in data["data"]
    assert data["data"]["items"] == [{"value": "always"}]
