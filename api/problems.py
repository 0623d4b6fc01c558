"""Every error leaves as application/problem+json (RFC 9457), with the rule and article where a rule refused."""

from __future__ import annotations

import logging
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from eventsourcing.persistence import IntegrityError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from application.common import ApplicationError
from domain.rules import InvalidTransition, OutOfRange, RuleViolation
from infrastructure.recorders import LedgerTampered, StoreBusy
from projections.paging import MalformedCursor
from projections.runner import ViewsBehind, ViewStalled

log = logging.getLogger("civic_ledger.api")
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, *, type_: str = "about:blank", **extra: Any) -> Response[Any]:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM)


def on_rule(request: Request[Any, Any, Any], exc: RuleViolation) -> Response[Any]:
    return problem(422, "A rule of the Measures refused this", exc.detail, type_=f"urn:civic-ledger:rule:{exc.rule}",
                   rule=exc.rule, article=exc.article, context=_plain(exc.context) or None)


def on_transition(request: Request[Any, Any, Any], exc: InvalidTransition) -> Response[Any]:
    return problem(409, "Not possible in the current state", exc.detail, type_="urn:civic-ledger:invalid-state",
                   context=_plain(exc.context) or None)


def on_application(request: Request[Any, Any, Any], exc: ApplicationError) -> Response[Any]:
    rule = getattr(exc, "rule", None)
    return problem(exc.status, exc.title, exc.detail, type_=f"urn:civic-ledger:rule:{rule}" if rule else "about:blank",
                   rule=rule, article=getattr(exc, "article", None), context=_plain(exc.context) or None,
                   errors=getattr(exc, "errors", None))


def on_integrity(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    return problem(409, "Conflict", "The object already exists or was changed by another write; reload and retry.")


def on_tampered(request: Request[Any, Any, Any], exc: LedgerTampered) -> Response[Any]:
    """An object whose stored events include a row the hash chain does not cover is never loaded or shown: 409,
    since the stored state conflicts with the ledger's own record of it; a retry gets the same answer until an
    operator has run `civic-ledger verify` and repaired the store."""
    log.error("refused to load %s: %s", exc.originator_id, exc)
    return problem(409, "The ledger's record of this object is not intact",
                   f"A stored event of this object is not covered by the ledger's hash chain ({exc.kind} at position "
                   f"{exc.position}); it is neither used nor shown. An operator must run `civic-ledger verify`.",
                   type_="urn:civic-ledger:ledger-integrity", kind=exc.kind, position=exc.position,
                   originator_id=exc.originator_id, originator_version=exc.originator_version)
def on_stalled(request: Request[Any, Any, Any], exc: ViewStalled) -> Response[Any]:
    f = exc.failure
    response = problem(503, "Read model stalled",
                       f"The read model {f.view} is stopped at ledger position {f.position}; it is retried "
                       "automatically and reported by /health. Retry after the time given.",
                       type_="urn:civic-ledger:view-stalled", view=f.view, position=f.position,
                       event_type=f.event_type)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def on_busy(request: Request[Any, Any, Any], exc: StoreBusy) -> Response[Any]:
    log.warning("store busy: %s", exc)
    response = problem(503, "Store busy", "The ledger did not take the write within its time limit; nothing was "
                       "recorded. Retry shortly.", type_="urn:civic-ledger:store-busy")
    response.headers["Retry-After"] = "1"
    return response


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _body_errors(request) or _litestar_errors(request, exc)
    return problem(400, "Malformed request", "The request does not have the expected shape; see errors.",
                   errors=errors)


def on_out_of_range(request: Request[Any, Any, Any], exc: OutOfRange) -> Response[Any]:
    return problem(400, "Malformed request", "The request does not have the expected shape; see errors.",
                   errors=[{"field": exc.field, "message": exc.detail}])


def on_views_behind(request: Request[Any, Any, Any], exc: ViewsBehind) -> Response[Any]:
    """A read model did not reach the position asked for within the bounded wait (503, retry later)."""
    return Response(content={"type": "about:blank", "title": "Service Unavailable", "status": 503,
                             "detail": exc.detail}, status_code=503, media_type=PROBLEM,
                    headers={"Retry-After": str(exc.retry_after)})


def on_cursor(request: Request[Any, Any, Any], exc: MalformedCursor) -> Response[Any]:
    return problem(400, "Malformed request", "The request does not have the expected shape; see errors.",
                   errors=[{"field": "cursor", "message": str(exc)}])


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    headers = getattr(exc, "headers", None) or {}
    resp = problem(exc.status_code, _title(exc.status_code), str(exc.detail))
    resp.headers.update(headers)
    return resp


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "Internal error", "The server failed to answer; the failure is logged.")


def _title(status: int) -> str:
    return {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
            409: "Conflict", 413: "Payload too large", 415: "Unsupported media type"}.get(status, "Error")


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value, str_keys=True, enc_hook=str)


def _litestar_errors(request: Request[Any, Any, Any], exc: ValidationException) -> list[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, list) else [exc.extra] if exc.extra else []
    return [{"field": _wire_name(request, e.get("key", "")), "message": e.get("message", "")} if isinstance(e, dict)
            else {"field": "", "message": str(e)} for e in extra] or [{"field": "", "message": str(exc.detail)}]


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """The name the client sent (`from`), not the handler's argument (`from_`)."""
    try:
        kwarg = request.route_handler.parsed_fn_signature.parameters[key].kwarg_definition
    except (AttributeError, KeyError):
        return key
    return getattr(kwarg, "name", None) or key


def _body_errors(request: Request[Any, Any, Any]) -> list[dict[str, Any]] | None:
    """Names every offending field of a JSON body, not only the first msgspec met."""
    raw = getattr(request._connection_state, "body", None)
    field = request.route_handler.parsed_data_field
    if not isinstance(raw, bytes) or field is None:
        return None
    return collect_errors(raw, field.annotation)


def collect_errors(raw: bytes, typ: Any) -> list[dict[str, Any]]:
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        return [{"field": "", "message": f"The body is not valid JSON: {e}"}]
    except RecursionError:
        return [{"field": "", "message": "The body is nested deeper than its type allows."}]
    typ = _unwrap(typ)
    if data is None:
        return [{"field": "", "message": "The body must be a JSON object."}]
    if not (isinstance(typ, type) and issubclass(typ, msgspec.Struct)):
        return [{"field": "", "message": "The body does not match the expected type."}]
    if not isinstance(data, dict):
        return [{"field": "", "message": "The body must be a JSON object."}]
    try:
        return _struct_errors(data, typ, "") or _walk(data, typ, "")
    except RecursionError:
        return [{"field": "", "message": "The body is nested deeper than its type allows."}]


def _walk(value: Any, typ: Any, path: str) -> list[dict[str, Any]]:
    """Every malformed field under `path`, at any depth: Structs and lists are opened, leaves converted."""
    try:
        msgspec.convert(value, typ)
        return []
    except msgspec.ValidationError as e:
        first = e
    inner = _unwrap(typ)
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct) and isinstance(value, dict):
        found = _struct_errors(value, inner, path)
    elif get_origin(inner) in (list, tuple) and isinstance(value, list):
        args = get_args(inner)
        item = args[0] if args and (get_origin(inner) is list or args[-1] is Ellipsis) else None
        found = [] if item is None else [err for i, v in enumerate(value) for err in _walk(v, item, f"{path}[{i}]")]
    else:
        found = []
    return found or [_leaf(first, path)]


def _struct_errors(data: dict[str, Any], cls: type[msgspec.Struct], path: str) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    fields = msgspec.structs.fields(cls)
    if cls.__struct_config__.forbid_unknown_fields:
        known = {f.encode_name for f in fields}
        errors += [{"field": _join(path, name), "message": "Unknown field."} for name in data if name not in known]
    for f in fields:
        if f.encode_name not in data:
            if f.required:
                errors.append({"field": _join(path, f.encode_name), "message": "This field is required."})
            continue
        errors += _walk(data[f.encode_name], f.type, _join(path, f.encode_name))
    return errors


def _unwrap(typ: Any) -> Any:
    """The type under Annotated and Optional, where one remains."""
    while True:
        if get_origin(typ) is Annotated:
            typ = get_args(typ)[0]
            continue
        if get_origin(typ) in (Union, UnionType):
            rest = [a for a in get_args(typ) if a is not type(None)]
            if len(rest) == 1:
                typ = rest[0]
                continue
        return typ


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _leaf(e: msgspec.ValidationError, path: str) -> dict[str, Any]:
    msg = str(e)
    if "- at `$" in msg:
        msg, _, where = msg.partition(" - at `$")
        path += where.rstrip("`")
    return {"field": path, "message": msg}
