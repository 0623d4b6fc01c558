"""Makes the served OpenAPI document say what the edge really accepts.

Litestar documents a msgspec Struct that forbids unknown fields as an open object, and a variadic
tuple (`tuple[X, ...]`) as an array whose items are "X or anything". Both are wider than what the
strict decoding accepts, so generated clients (and fuzzers) would send what is then refused. This
tightens the generated document once, when the app is built.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
    SecurityScheme,
)

from api.contract import FieldError, Problem
from domain.limits import MAX_INT64


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


# -- the contract of every operation: problems, the bearer scheme, headers (decision 0016) ----------

PROBLEM_MEDIA = "application/problem+json"
_METHODS = ("get", "post", "put", "delete", "patch")
_BODY_METHODS = ("post", "put", "delete", "patch")
_MAY_BE_MISSING = frozenset({"/ledger/checkpoint"})
"""Reads without a path parameter that answer 404 too: the latest checkpoint, before the first one is signed."""
# writes that answer without the command envelope's headers (their own records, not an aggregate's events)
_OWN_ANSWERS = ("/ledger", "/webhooks", "/access-logs", "/grant-status")
_GENERIC_NAMES = {"Page_dict_str_typing.Any_": "RowPage"}
_PAGE_OF = re.compile(r"^Page_[\w.]*\.(\w+)_$")
_WHY = {
    400: "Malformed request: a parameter, header or body field is out of its declared shape (see `errors`).",
    401: "No bearer token, or one that is unknown or revoked (`WWW-Authenticate: Bearer`).",
    403: "The caller's organization or role may not do this.",
    404: "No such object, or not one the caller may see.",
    409: "Not possible in the object's current state, a stale `If-Match`, an `Idempotency-Key` reused for another "
         "request, or an object whose stored events the ledger's hash chain does not cover.",
    413: "The body is larger than the route's limit.",
    415: "A body is JSON, sent as application/json (or a +json type).",
    422: "A rule of the Measures refused this: `rule` and `article` name it.",
    503: "The store is busy or a read model is behind or stalled; nothing was recorded. Retry after `Retry-After` seconds.",
}


def _string(description: str, **extra: Any) -> Schema:
    return Schema(type=OpenAPIType.STRING, description=description, **extra)


def _header(description: str, schema: Schema | None = None) -> OpenAPIHeader:
    return OpenAPIHeader(schema=schema or Schema(type=OpenAPIType.STRING), description=description)


POSITION = _header("The ledger position of the write (or the position the answer stands on); send it back as "
                   "X-Min-Position to read at least that fresh.",
                   Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_INT64))
ETAG = _header('The object\'s version, e.g. "3"; send it as If-Match to write only over that version.')
REPLAYED = _header("`true` when this answer replays the first answer to the same Idempotency-Key: the same "
                   "status and body bytes, and nothing was recorded again.", Schema(type=OpenAPIType.STRING,
                                                                                     enum=["true"]))
LOCATION = _header("Where the created object is read.")
RETRY_AFTER = _header("Seconds to wait before retrying.", Schema(type=OpenAPIType.INTEGER, minimum=0))


def _problem_schemas(components: Components) -> None:
    schemas = components.schemas = components.schemas or {}
    schemas["FieldError"] = Schema(
        type=OpenAPIType.OBJECT, title="FieldError", required=["field", "message"],
        description=(FieldError.__doc__ or "").strip(),
        properties={"field": _string("The field as the client sent it"), "message": _string("Why it is refused")})
    nullable_string = Schema(one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)])
    schemas["Problem"] = Schema(
        type=OpenAPIType.OBJECT, title="Problem", required=["type", "title", "status", "detail"],
        description=(Problem.__doc__ or "").strip(),
        properties={
            "type": _string("`urn:civic-ledger:rule:<rule>` for a rule's refusal, another URN or about:blank"),
            "title": _string("A short summary of the kind of problem"),
            "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599, description="The HTTP status"),
            "detail": _string("What went wrong with this request"),
            "rule": Schema(one_of=nullable_string.one_of, description="The rule id (e.g. USE-1) when a rule refused"),
            "article": Schema(one_of=nullable_string.one_of, description="The article of the Measures the rule rests on"),
            "errors": Schema(one_of=[Schema(type=OpenAPIType.ARRAY, items=Reference(ref="#/components/schemas/FieldError")),
                                     Schema(type=OpenAPIType.NULL)],
                             description="Every offending field of a malformed request"),
            "context": Schema(one_of=[Schema(type=OpenAPIType.OBJECT), Schema(type=OpenAPIType.NULL)],
                              description="What the refusal was judged on"),
        })


def _problem(status: int) -> OpenAPIResponse:
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": _header("Bearer")}
    return OpenAPIResponse(description=_WHY[status], headers=headers,
                           content={PROBLEM_MEDIA: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))})


def _names(schemas: dict[str, Any]) -> dict[str, str]:
    """Readable, unique component names: `Page[Row]` is `RowPage`, and two Structs of one name in different
    modules (Litestar names them `maintenance_BatchBody`, `access_log_BatchBody`) get the module as a prefix
    in CamelCase, in the key and the title, since generators name their models by the title."""
    renamed = {}
    for name in schemas:
        page_of = _PAGE_OF.match(name)
        if name in _GENERIC_NAMES:
            renamed[name] = _GENERIC_NAMES[name]
        elif page_of:  # `Page[TicketRow]`, named `Page_projections.maintenance_queries.TicketRow_`: `TicketRowPage`
            renamed[name] = f"{page_of.group(1)}Page"
        elif "_" in name:
            module, _, struct = name.rpartition("_")
            renamed[name] = "".join(part.capitalize() for part in module.split("_")) + struct
    return renamed


def _rename(node: Any, renamed: dict[str, str], depth: int = 0) -> None:
    if depth > 60:
        return
    if isinstance(node, Reference):
        name = node.ref.rsplit("/", 1)[-1]
        if name in renamed:
            node.ref = f"#/components/schemas/{renamed[name]}"
        return
    if isinstance(node, dict):
        for child in node.values():
            _rename(child, renamed, depth + 1)
    elif isinstance(node, list | tuple):
        for child in node:
            _rename(child, renamed, depth + 1)
    elif is_dataclass(node):
        for f in fields(node):
            _rename(getattr(node, f.name), renamed, depth + 1)


def _handlers(app: Litestar) -> dict[tuple[str, str], Any]:
    """Each documented operation's handler, by (document path, method)."""
    found: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", ()):
            for method in getattr(handler, "http_methods", ()):
                found[(path, method.lower())] = handler
    return found


AUTHENTICATED = ("principal", "asking")
"""The dependencies that authenticate the caller (`asking` carries the grant-status question's caller)."""


def _protected(handler: Any) -> bool:
    return handler is not None and any(name in handler.parsed_fn_signature.parameters for name in AUTHENTICATED)


def declare_contract(app: Litestar) -> None:
    """Adds to every operation the problems it may answer, the bearer scheme where a token is required, and the
    headers its answers carry; the live stream is declared as text/event-stream."""
    document = app.openapi_schema
    components = document.components
    schemas = components.schemas = components.schemas or {}
    renamed = _names(schemas)
    for old, new in renamed.items():
        schemas[new] = schemas.pop(old)
        schemas[new].title = new
    _rename(document.paths, renamed)
    _rename(schemas, renamed)
    _problem_schemas(components)
    components.security_schemes = {"bearerAuth": SecurityScheme(
        type="http", scheme="bearer", description="A person's API token (`civic-ledger token`); "
        "X-On-Behalf-Of names the organization a platform account acts for.")}
    handlers = _handlers(app)
    for path, item in (document.paths or {}).items():
        for method in _METHODS:
            operation = getattr(item, method, None)
            if operation is None:
                continue
            handler = handlers.get((path, method))
            protected = _protected(handler)
            statuses = {400, 503}
            if protected:
                statuses |= {401, 403}
                operation.security = [{"bearerAuth": []}]
            if "{" in path or method != "get" or path in _MAY_BE_MISSING:
                statuses.add(404)
            if method in _BODY_METHODS:
                statuses |= {409, 413, 415, 422}
            _optional_body(operation, handler)
            responses = operation.responses = operation.responses or {}
            for status in sorted(statuses):
                responses[str(status)] = _problem(status)
            for status, response in responses.items():
                if isinstance(response, OpenAPIResponse) and status.startswith("2"):
                    _success_headers(path, method, status, response)
    _stream(document.paths or {})
    _alternates(document.paths or {}, schemas)


def _alternates(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The answers a route gives in another media type when `Accept` asks for it: a page of `/events` as a
    CloudEvents batch (its cursor then in headers), a checkpoint as a C2SP signed note."""
    events = getattr(paths.get("/events"), "get", None)
    ok = None if events is None else (events.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse):
        page = schemas.get("FeedPage")
        batch = (page.properties or {}).get("events") if isinstance(page, Schema) else None
        ok.content = {**(ok.content or {}), "application/cloudevents-batch+json": OpenAPIMediaType(
            schema=batch if batch is not None else Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT)))}
        ok.headers = {**(ok.headers or {}),
                      "X-Ledger-Next": OpenAPIHeader(description="With a batch: the next page's `after`.",
                                                     schema=Schema(type=OpenAPIType.STRING, pattern=r"^[0-9]{1,19}$")),
                      "Link": OpenAPIHeader(description='With a batch: `<…?after=N>; rel="next"`.',
                                            schema=Schema(type=OpenAPIType.STRING))}
    checkpoint = getattr(paths.get("/ledger/checkpoints/{tree_size}"), "get", None)
    ok = None if checkpoint is None else (checkpoint.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse):
        ok.content = {**(ok.content or {}), "text/plain": OpenAPIMediaType(schema=Schema(
            type=OpenAPIType.STRING, description="The same tree head as a C2SP signed-note checkpoint."))}


def _optional_body(operation: Any, handler: Any) -> None:
    """A body the handler defaults to None (`JSONBody[X | None] = None`) may be left out: not required."""
    field = getattr(handler, "parsed_data_field", None)
    body = operation.request_body
    if field is not None and body is not None and not isinstance(body, Reference) and field.is_optional:
        body.required = False


def _success_headers(path: str, method: str, status: str, response: OpenAPIResponse) -> None:
    headers = response.headers = dict(response.headers or {})
    if status == "201":
        headers.setdefault("Location", LOCATION)
    if method != "get" and path.startswith(_OWN_ANSWERS):
        if path == "/grant-status":
            headers.setdefault("X-Ledger-Position", POSITION)
            headers.setdefault("Idempotent-Replayed", REPLAYED)
    elif method != "get":
        headers.setdefault("X-Ledger-Position", POSITION)
        headers.setdefault("ETag", ETAG)
        headers.setdefault("Idempotent-Replayed", REPLAYED)
    elif path.endswith("}") or path in ("/events", "/grant-status"):
        headers.setdefault("ETag" if path.endswith("}") else "X-Ledger-Position", ETAG if path.endswith("}") else POSITION)


def _stream(paths: dict[str, Any]) -> None:
    item = paths.get("/events/stream")
    operation = getattr(item, "get", None)
    if operation is None:
        return
    operation.responses = operation.responses or {}
    operation.responses["200"] = OpenAPIResponse(
        description="Server-Sent Events without end: each `data` a JSON array of CloudEvents, `id` the ledger "
                    "position of its last event; comments are heartbeats.",
        content={"text/event-stream": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))})
