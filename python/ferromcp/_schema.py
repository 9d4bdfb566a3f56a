"""JSON Schema from type hints, and the converters that turn validated JSON into the hinted Python types.

msgspec does the work for the standard typing vocabulary (str/int/float/bool, None/Optional, Literal, Enum,
list/dict/tuple, TypedDict, dataclasses, msgspec Structs, `Annotated[..., msgspec.Meta(...)]`). A hint that
involves pydantic (a BaseModel, or `Annotated[..., pydantic.Field(...)]`) goes through pydantic, which is used
only when the user's own code already imports it.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

import msgspec

from ._header import Header

__all__ = ["Converter", "Header", "ParamSchema", "header_of", "needs_conversion", "object_schema", "param_schemas"]

Converter = Callable[[Any], Any]
_REF_TEMPLATE = "#/$defs/{name}"
_JSON_SCALARS: tuple[type, ...] = (str, int, bool, type(None))


@dataclasses.dataclass(slots=True)
class ParamSchema:
    schema: dict[str, Any]
    convert: Converter | None


def _pydantic() -> Any:
    return sys.modules.get("pydantic")


def _mentions_pydantic(tp: Any) -> bool:
    pyd = _pydantic()
    if pyd is None:
        return False
    if isinstance(tp, type) and issubclass(tp, pyd.BaseModel):
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        args = typing.get_args(tp)
        if any(isinstance(m, pyd.fields.FieldInfo) for m in args[1:]):
            return True
        return _mentions_pydantic(args[0])
    return any(_mentions_pydantic(a) for a in typing.get_args(tp))


def header_of(tp: Any) -> Header | None:
    """The `Header` in `Annotated[..., Header(...)]`, if any."""
    if typing.get_origin(tp) is not typing.Annotated:
        return None
    return next((m for m in typing.get_args(tp)[1:] if isinstance(m, Header)), None)


def _strip_annotated(tp: Any) -> tuple[Any, str | None]:
    """`Annotated[T, "a description", msgspec.Meta(...)]` → (T with Meta kept, description)."""
    if typing.get_origin(tp) is not typing.Annotated:
        return tp, None
    base, *extras = typing.get_args(tp)
    description = next((m for m in extras if isinstance(m, str)), None)
    metas = [m for m in extras if isinstance(m, msgspec.Meta)]
    kept: Any = typing.Annotated[(base, *metas)] if metas else base  # type: ignore[valid-type]
    return kept, description


def needs_conversion(tp: Any) -> bool:
    """False when validated JSON already is the Python value the hint asks for (no per-call work)."""
    tp, _ = _strip_annotated(tp)
    if tp is Any or tp is object or tp in _JSON_SCALARS:
        return False
    if tp is float:
        return True  # JSON integers must become floats
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp in (list, dict) or origin in (list, dict):
        return any(needs_conversion(a) for a in args)
    if origin is typing.Literal:
        return not all(isinstance(a, (str, int, bool)) or a is None for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return any(needs_conversion(a) for a in args)
    return True


def _msgspec_converter(tp: Any) -> Converter:
    def convert(value: Any) -> Any:
        return msgspec.convert(value, tp)

    return convert


def _pydantic_param(tp: Any) -> ParamSchema:
    pyd = _pydantic()
    assert pyd is not None
    adapter = pyd.TypeAdapter(tp)
    schema: dict[str, Any] = adapter.json_schema(ref_template="#/$defs/{model}")
    return ParamSchema(schema, adapter.validate_python)


def param_schemas(hints: dict[str, Any]) -> tuple[dict[str, ParamSchema], dict[str, Any]]:
    """Schemas (and converters) for each named hint, plus shared `$defs`."""
    out: dict[str, ParamSchema] = {}
    defs: dict[str, Any] = {}
    plain: dict[str, tuple[Any, str | None]] = {}
    for name, tp in hints.items():
        if _mentions_pydantic(tp):
            ps = _pydantic_param(tp)
            defs.update(ps.schema.pop("$defs", {}))
            out[name] = ps
        else:
            plain[name] = _strip_annotated(tp)
    if plain:
        schemas, components = msgspec.json.schema_components(
            [tp for tp, _ in plain.values()], ref_template=_REF_TEMPLATE
        )
        defs.update(components)
        for (name, (tp, description)), schema in zip(plain.items(), schemas, strict=True):
            schema = dict(schema)
            if description is not None:
                schema.setdefault("description", description)
            out[name] = ParamSchema(schema, _msgspec_converter(tp) if needs_conversion(tp) else None)
    for name, tp in hints.items():
        header = header_of(tp)
        if header is not None:
            out[name].schema["x-mcp-header"] = header.name
    # Converters for floats are cheap and common: do them without msgspec.
    for name, tp in hints.items():
        if _strip_annotated(tp)[0] is float:
            out[name].convert = float
    return out, defs


def object_schema(tp: Any) -> dict[str, Any] | None:
    """A standalone schema for a return type when it describes a JSON object, else None."""
    if _mentions_pydantic(tp):
        schema = _pydantic_param(tp).schema
    else:
        base, _ = _strip_annotated(tp)
        if not _is_object_type(base):
            return None
        (schema,), components = msgspec.json.schema_components([base], ref_template=_REF_TEMPLATE)
        schema = dict(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            schema = dict(components.pop(name))
        if components:
            schema["$defs"] = components
    return schema if schema.get("type") == "object" else None


def _is_object_type(tp: Any) -> bool:
    if tp is dict or typing.get_origin(tp) is dict:
        return True
    if not inspect.isclass(tp) or issubclass(tp, enum.Enum):
        return False
    if dataclasses.is_dataclass(tp) or typing.is_typeddict(tp) or issubclass(tp, msgspec.Struct):
        return True
    return getattr(tp, "_fields", None) is not None and issubclass(tp, tuple)  # NamedTuple


def value_schema(tp: Any) -> dict[str, Any]:
    """Any type's schema, `$defs` inlined under the schema itself."""
    if _mentions_pydantic(tp):
        return _pydantic_param(tp).schema
    base, description = _strip_annotated(tp)
    (schema,), components = msgspec.json.schema_components([base], ref_template=_REF_TEMPLATE)
    schema = dict(schema)
    if description is not None:
        schema.setdefault("description", description)
    if components:
        schema["$defs"] = components
    return schema
