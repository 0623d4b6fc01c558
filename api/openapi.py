"""Makes the served OpenAPI document say what the edge really accepts.

Litestar documents a msgspec Struct that forbids unknown fields as an open object, and a variadic
tuple (`tuple[X, ...]`) as an array whose items are "X or anything". Both are wider than what the
strict decoding accepts, so generated clients (and fuzzers) would send what is then refused. This
tightens the generated document once, when the app is built.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Litestar
from litestar.openapi.spec import Reference, Schema


def _structs(typ: Any, seen: set[type]) -> None:
    if isinstance(typ, type) and issubclass(typ, msgspec.Struct):
        if typ in seen:
            return
        seen.add(typ)
        for f in msgspec.structs.fields(typ):
            _structs(f.type, seen)
        return
    for arg in get_args(typ) if get_origin(typ) is not None else ():
        _structs(arg, seen)


def _body_structs(app: Litestar) -> dict[str, list[type[msgspec.Struct]]]:
    seen: set[type] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            field = handler.parsed_data_field if hasattr(handler, "parsed_data_field") else None
            if field is not None:
                _structs(field.annotation, seen)
    by_title: dict[str, list[type[msgspec.Struct]]] = {}
    for cls in seen:
        by_title.setdefault(cls.__name__, []).append(cls)
    return by_title


def _meta(typ: Any) -> tuple[Any, list[msgspec.Meta]]:
    """The type under Annotated (and Optional), and the Metas on the way."""
    metas: list[msgspec.Meta] = []
    while True:
        args = get_args(typ)
        if get_origin(typ) is Annotated:
            metas += [m for m in args[1:] if isinstance(m, msgspec.Meta)]
            typ = args[0]
        elif get_origin(typ) in (Union, UnionType) and type(None) in args and len(args) == 2:
            typ = next(a for a in args if a is not type(None))
        else:
            return typ, metas


def _constrain(schema: Schema, typ: Any) -> None:
    """Copies the constraints of an item (or value) type that Litestar left out onto its schema."""
    _, metas = _meta(typ)
    for meta in metas:
        for attr, key in (("pattern", "pattern"), ("max_length", "max_length"), ("min_length", "min_length")):
            if getattr(meta, attr) is not None and getattr(schema, key, None) is None:
                setattr(schema, key, getattr(meta, attr))


def _fill_items(schema: Schema, cls: type[msgspec.Struct]) -> None:
    for f in msgspec.structs.fields(cls):
        prop = (schema.properties or {}).get(f.encode_name)
        inner, _ = _meta(f.type)
        args = get_args(inner)
        if not isinstance(prop, Schema) or not args:
            continue
        if get_origin(inner) in (list, tuple) and isinstance(prop.items, Schema):
            _constrain(prop.items, args[0])
        elif get_origin(inner) is dict and isinstance(prop.additional_properties, Schema):
            _constrain(prop.additional_properties, args[1])


def _is_anything(schema: Any) -> bool:
    return isinstance(schema, Schema) and schema == Schema()


def _tighten(node: Any, structs: dict[str, list[type[msgspec.Struct]]], depth: int = 0) -> None:
    if depth > 50 or not (isinstance(node, Schema) or is_dataclass(node)):
        return
    if isinstance(node, Schema):
        for cls in structs.get(node.title or "", ()):
            if node.properties is not None and set(node.properties) == {f.encode_name for f in msgspec.structs.fields(cls)}:
                if cls.__struct_config__.forbid_unknown_fields:
                    node.additional_properties = False
                _fill_items(node, cls)
        items = node.items
        if isinstance(items, Schema) and items.one_of and len(items.one_of) == 2 and _is_anything(items.one_of[1]):
            node.items = items.one_of[0]
    for f in fields(node):
        value = getattr(node, f.name)
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
        for child in children:
            if isinstance(child, Schema) and not isinstance(child, Reference):
                _tighten(child, structs, depth + 1)


def tighten(app: Litestar) -> None:
    """Closes the objects that forbid unknown fields and narrows variadic tuples, in the served document."""
    document = app.openapi_schema
    structs = _body_structs(app)
    for schema in (document.components.schemas or {}).values():
        _tighten(schema, structs)
    for path in (document.paths or {}).values():
        for operation in (getattr(path, m) for m in ("get", "post", "put", "delete", "patch")):
            for parameter in (operation.parameters or []) if operation else []:
                if isinstance(parameter.schema, Schema):
                    _tighten(parameter.schema, structs)
