"""The edge contract, enforced before any handler runs (see docs/decisions/0009-edge-contract.md).

- A body is JSON only under a JSON media type (`application/json` or `…+json`): 415 otherwise
  (a route that declares no JSON body may read a form; its fields obey the text rule below).
- A body is read under the route's size limit (413 as soon as the bytes streamed pass it, with or
  without a Content-Length) and decoded strictly into the handler's type: no string is taken for
  a number, every msgspec constraint of the type applies, and nesting is bounded by the type (a
  deeper document is a 400, never a RecursionError).
- No string anywhere -- body at any depth, path, query, or a header that reaches the domain --
  holds NUL (PostgreSQL text cannot) or an unpaired surrogate (no UTF-8 encoding can), and no
  integer leaves 64 bits signed: such a value would be recorded and then stop every read model.

The decoded body is handed to Litestar, so it is decoded once.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, get_args

import msgspec
from litestar import Request, Response
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, ValidationException

from application.common import ApplicationError
from domain.limits import MAX_INT64
from domain.rules import OutOfRange

INT64 = (-(2**63), MAX_INT64)
# Cheap test on the raw body; the decoded body is walked only when it matches.
_SUSPECT = re.compile(rb"\\u0000|\d{19,}")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_JSON_MEDIA = re.compile(r"^application/(?:[A-Za-z0-9!#$&^_.-]+\+)?json$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Headers whose value reaches an event, a query or a response.
_HEADERS = ("idempotency-key", "if-match", "x-request-id", "x-on-behalf-of", "x-min-position", "last-event-id")
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
# A date-time in a query is RFC 3339 text: it starts with its date (a bare number is no instant, though
# the lenient query decoding would read it as seconds since 1970).
_DATE_TIME_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


class Unstorable(ApplicationError):
    status = 400
    title = "Malformed request"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("The request holds values no store can keep; see errors.")
        self.errors = errors


class UnsupportedMediaType(HTTPException):
    status_code = 415


def _text_error(value: str) -> str | None:
    bad = _BAD_TEXT.search(value)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return "Text may not contain the NUL character (U+0000)."
    return "Text may not contain an unpaired surrogate (U+D800 to U+DFFF)."


def _walk(value: Any, path: str, out: list[dict[str, str]]) -> None:
    if isinstance(value, str):
        message = _text_error(value)
        if message:
            out.append({"field": path or "body", "message": message})
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            out.append({"field": path or "body", "message": "A whole number between -2^63 and 2^63-1."})
    elif isinstance(value, dict):
        for k, v in value.items():
            where = f"{path}.{k}" if path else str(k)
            _walk(k, where, out)
            _walk(v, where, out)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", out)


def _shown(name: str) -> str:
    return name.encode("unicode_escape").decode("ascii")


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    return bool(_JSON_MEDIA.match(media))


def _is_form(content_type: str | None) -> bool:
    media = (content_type or "").partition(";")[0].strip().lower()
    return media in ("application/x-www-form-urlencoded", "multipart/form-data")


def _declares_form(field: Any) -> bool:
    media = getattr(getattr(field, "kwarg_definition", None), "media_type", None)
    return media in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART)


def _has_body(request: Request[Any, Any, Any]) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length.strip() not in ("", "0")) or "transfer-encoding" in request.headers


def _decoder(annotation: Any) -> msgspec.json.Decoder[Any]:
    decoder = _decoders.get(annotation)
    if decoder is None:
        decoder = _decoders[annotation] = msgspec.json.Decoder(annotation, strict=True)
    return decoder


def _instant_query_names(handler: Any) -> frozenset[str]:
    """The query parameters of a handler that are date-times, by the name the client sends."""
    found = set()
    signature = getattr(handler, "parsed_fn_signature", None)
    for key, field in signature.parameters.items() if signature is not None else ():
        inner = [a for a in (get_args(field.annotation) or (field.annotation,)) if a is not type(None)]
        if any(isinstance(a, type) and issubclass(a, datetime) for a in inner):
            found.add(getattr(field.kwarg_definition, "name", None) or key)
    return frozenset(found)


def _check_request_line(request: Request[Any, Any, Any], errors: list[dict[str, str]]) -> None:
    message = _text_error(request.url.path)
    if message:
        errors.append({"field": "path", "message": message})
    for name, value in request.path_params.items():
        if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            errors.append({"field": name, "message": "A whole number between -2^63 and 2^63-1."})
    for name, value in request.query_params.multi_items():
        message = _text_error(name) or _text_error(value)
        if message:
            errors.append({"field": _shown(name), "message": message})
    for name in _HEADERS:
        value = request.headers.get(name)
        if value is not None and any(c < " " or c == "\x7f" for c in value):
            errors.append({"field": name, "message": "A header value may not contain control characters."})


async def refuse_unstorable(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook: 415, 413 or 400 before anything is recorded (see the module's docstring)."""
    errors: list[dict[str, str]] = []
    _check_request_line(request, errors)
    if errors:
        raise Unstorable(errors)
    instants = request.app.state.get(_INSTANTS, {}).get(id(request.route_handler), frozenset())
    for name, value in request.query_params.multi_items():
        if name in instants and not _DATE_TIME_START.match(value):
            raise OutOfRange(name, "An RFC 3339 date-time with its offset, e.g. 2026-03-31T16:00:00Z; "
                                   "a number is no date-time.")
    if request.method not in _BODY_METHODS:
        return
    field = request.route_handler.parsed_data_field
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        if not _has_body(request):
            return
        if _is_form(content_type) and (field is None or _declares_form(field)):
            # a route that declares no JSON body and reads a form (the web console): its fields are
            # held to the same text rule, and Litestar keeps the parsed form for the handler
            form = await request.form()
            for name, value in form.multi_items():
                message = _text_error(name) or (_text_error(value) if isinstance(value, str) else None)
                if message:
                    errors.append({"field": _shown(name), "message": message})
            if errors:
                raise Unstorable(errors)
            return
        raise UnsupportedMediaType("A request body is JSON, sent as application/json (or a +json type).")
    raw = await request.body()  # under the route's size limit: 413 past it, however the body is framed
    if not raw or field is None:
        return
    try:
        decoded = _decoder(field.annotation).decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as e:
        raise ValidationException(str(e)) from None
    if _SUSPECT.search(raw):
        _walk(msgspec.to_builtins(decoded), "", errors)
        if errors:
            raise Unstorable(errors)
    request._connection_state.json = decoded


def _template(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def _methods_by_path(app: Any) -> dict[str, str]:
    table: dict[str, str] = {}
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if methods:
            path = _template(route.path)
            table[path] = ", ".join(sorted(set(methods) | set(table.get(path, "").split(", ")) - {""}))
    return table


_ALLOW = "edge.allow"
_INSTANTS = "edge.instants"


def prepare(app: Any) -> None:
    """Computes once, when the app is built, what the edge looks up per request: each path's methods and each
    handler's date-time query parameters (kept in the app's state, so they live exactly as long as the app)."""
    app.state[_ALLOW] = _methods_by_path(app)
    app.state[_INSTANTS] = {id(handler): _instant_query_names(handler) for route in app.routes
                            for handler in getattr(route, "route_handlers", ())}


def allow_header(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Answers OPTIONS with every method of the path: Litestar's own answer lists the methods of the first
    handler registered on it only (`OPTIONS /webhooks` left out POST)."""
    if request.method != "OPTIONS":
        return None
    allowed = request.app.state.get(_ALLOW, {}).get(_template(str(request.scope.get("path_template", ""))))
    if allowed is None:
        return None
    return Response(content=None, status_code=204, headers={"Allow": allowed}, media_type="text/plain")


async def edge(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """The app's `before_request`: OPTIONS answered with the path's methods, then the edge contract."""
    options = allow_header(request)
    if options is not None:
        return options
    await refuse_unstorable(request)
    return None
