"""CEL object types from JSON Schemas.

cel-expr-python type-checks field access against protobuf descriptors. To give rules a typed view of
their inputs (``spec.imageSetting.imagee`` is a load-time error, not a runtime surprise), every JSON
Schema a rule pack sees (the input kind's, the cluster view's) is turned into proto3 message descriptors
in a private descriptor pool. Values are converted with ``json_format.ParseDict``.

Mapping: object with properties -> message; object with additionalProperties -> map<string, T>;
array -> repeated T; optional scalar -> proto3 ``optional`` (so ``has()`` works); anything else
(unions, free-form objects, nested arrays) -> ``google.protobuf.Value``, which CEL treats as ``dyn``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2
from google.protobuf.message import Message

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {"string": _F.TYPE_STRING, "integer": _F.TYPE_INT64, "number": _F.TYPE_DOUBLE, "boolean": _F.TYPE_BOOL}
_VALUE = ".google.protobuf.Value"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SchemaTypeError(ValueError):
    """A JSON Schema could not be mapped to CEL types."""


@dataclass
class _Field:
    type: int
    type_name: str = ""
    repeated: bool = False
    optional: bool = False
    map_value: _Field | None = None


@dataclass
class TypeRegistry:
    """A descriptor pool holding the message types of one rule pack's environment."""

    package: str = "fedrender.types"
    _pool: descriptor_pool.DescriptorPool = field(default_factory=descriptor_pool.DescriptorPool)
    _classes: dict[str, type[Message]] = field(default_factory=dict)
    _file: descriptor_pb2.FileDescriptorProto | None = None
    _done: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)

    @property
    def pool(self) -> descriptor_pool.DescriptorPool:
        return self._pool

    def add(self, name: str, schema: dict[str, Any]) -> str:
        """Register ``schema`` (with its ``$defs``) as message ``name``; returns the full CEL type name."""
        if not _IDENT.match(name):
            raise SchemaTypeError(f"type name {name!r} is not an identifier")
        file = descriptor_pb2.FileDescriptorProto(
            name=f"{self.package.replace('.', '/')}/{name}.proto",
            package=f"{self.package}.{name.lower()}",
            syntax="proto3",
            dependency=["google/protobuf/struct.proto"],
        )
        self._file = file
        defs = dict(schema.get("$defs", {}))
        self._done = set()
        root = self._message(name, schema, defs)
        self._pool.Add(file)
        self._file = None
        full = f"{file.package}.{root}"
        self._classes[full] = message_factory.GetMessageClass(self._pool.FindMessageTypeByName(full))
        return full

    def message(self, type_name: str, data: dict[str, Any]) -> Message:
        """A message of ``type_name`` holding ``data`` (a JSON-compatible dict)."""
        cls = self._classes[type_name]
        return json_format.ParseDict(data, cls())

    def _message(self, name: str, schema: dict[str, Any], defs: dict[str, Any]) -> str:
        assert self._file is not None
        if name in self._done:
            return name
        self._done.add(name)
        msg = self._file.message_type.add(name=name)
        required = set(schema.get("required") or [])
        for number, (prop, sub) in enumerate(sorted((schema.get("properties") or {}).items()), start=1):
            if not _IDENT.match(prop):
                raise SchemaTypeError(f"field {prop!r} of {name} is not an identifier")
            spec = self._field(f"{name}_{prop}", sub, defs, msg)
            self._emit(msg, prop, number, spec, prop in required)
        return name

    def _emit(self, msg: descriptor_pb2.DescriptorProto, prop: str, number: int, spec: _Field, required: bool) -> None:
        if spec.map_value is not None:
            entry = msg.nested_type.add(name=f"{prop[0].upper()}{prop[1:]}Entry")
            entry.options.map_entry = True
            entry.field.add(name="key", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
            value = spec.map_value
            entry.field.add(name="value", number=2, type=value.type, label=_F.LABEL_OPTIONAL,
                            **({"type_name": value.type_name} if value.type_name else {}))
            msg.field.add(name=prop, number=number, type=_F.TYPE_MESSAGE, label=_F.LABEL_REPEATED,
                          type_name=f".{self._file.package}.{msg.name}.{entry.name}" if self._file else "")
            return
        label = _F.LABEL_REPEATED if spec.repeated else _F.LABEL_OPTIONAL
        added = msg.field.add(name=prop, number=number, type=spec.type, label=label,
                              **({"type_name": spec.type_name} if spec.type_name else {}))
        if spec.type != _F.TYPE_MESSAGE and not spec.repeated and not required:
            added.proto3_optional = True
            added.oneof_index = len(msg.oneof_decl)
            msg.oneof_decl.add(name=f"_{prop}")

    def _field(self, hint: str, schema: dict[str, Any], defs: dict[str, Any],
               parent: descriptor_pb2.DescriptorProto) -> _Field:
        schema = self._resolve(schema, defs)
        variants = [self._resolve(s, defs) for s in schema.get("anyOf", schema.get("oneOf", []))]
        if variants:
            non_null = [s for s in variants if s.get("type") != "null"]
            if len(non_null) != 1:
                return _Field(_F.TYPE_MESSAGE, _VALUE)
            return self._field(hint, non_null[0], defs, parent)
        kind = schema.get("type")
        if kind in _SCALARS:
            return _Field(_SCALARS[kind])
        if kind == "array":
            item = self._field(hint, schema.get("items", {}), defs, parent)
            if item.repeated or item.map_value is not None:
                return _Field(_F.TYPE_MESSAGE, ".google.protobuf.ListValue")
            return _Field(item.type, item.type_name, repeated=True)
        if kind == "object" and schema.get("properties"):
            name = re.sub(r"[^A-Za-z0-9_]", "_", schema.get("x-ref-name") or hint)
            package = self._file.package if self._file else ""
            return _Field(_F.TYPE_MESSAGE, f".{package}.{self._message(name, schema, defs)}")
        if kind == "object" and isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"]:
            value = self._field(hint + "Value", schema["additionalProperties"], defs, parent)
            if value.repeated or value.map_value is not None:
                value = _Field(_F.TYPE_MESSAGE, _VALUE)
            return _Field(_F.TYPE_MESSAGE, map_value=value)
        if kind == "object":
            return _Field(_F.TYPE_MESSAGE, ".google.protobuf.Struct")
        return _Field(_F.TYPE_MESSAGE, _VALUE)

    @staticmethod
    def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if ref is None:
            return schema
        name = ref.rsplit("/", 1)[-1]
        if name not in defs:
            raise SchemaTypeError(f"unresolved $ref {ref!r}")
        resolved = dict(defs[name])
        resolved["x-ref-name"] = name
        return resolved
