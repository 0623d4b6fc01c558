"""Every error leaves as application/problem+json (RFC 9457), with the rule and article where a rule refused."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from eventsourcing.persistence import IntegrityError
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from application.common import ApplicationError
from domain.rules import InvalidTransition, OutOfRange, RuleViolation
from projections.queries import MalformedCursor

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
                   rule=rule, article=getattr(exc, "article", None), context=_plain(exc.context) or None)


def on_integrity(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    return problem(409, "Conflict", "The object already exists or was changed by another write; reload and retry.")


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = _body_errors(request) or _litestar_errors(request, exc)
    return problem(400, "Malformed request", "The request does not have the expected shape; see errors.",
                   errors=errors)


def on_out_of_range(request: Request[Any, Any, Any], exc: OutOfRange) -> Response[Any]:
    return problem(400, "Malformed request", "The request does not have the expected shape; see errors.",
                   errors=[{"field": exc.field, "message": exc.detail}])


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
    if not (isinstance(typ, type) and issubclass(typ, msgspec.Struct)):
        return [{"field": "", "message": "The body does not match the expected type."}]
    if not isinstance(data, dict):
        return [{"field": "", "message": "The body must be a JSON object."}]
    info = msgspec.inspect.type_info(typ)
    errors: list[dict[str, Any]] = []
    known = {f.encode_name: f for f in info.fields}  # type: ignore[attr-defined]
    for name in data:
        if name not in known and typ.__struct_config__.forbid_unknown_fields:
            errors.append({"field": name, "message": "Unknown field."})
    hints = msgspec.structs.fields(typ)
    for f in hints:
        if f.encode_name not in data:
            if f.required:
                errors.append({"field": f.encode_name, "message": "This field is required."})
            continue
        try:
            msgspec.convert(data[f.encode_name], f.type)
        except msgspec.ValidationError as e:
            msg = str(e)
            path = f.encode_name
            if "- at `$" in msg:
                msg, _, where = msg.partition(" - at `$")
                path += where.rstrip("`")
            errors.append({"field": path, "message": msg})
    if not errors:
        try:
            msgspec.convert(data, typ)
        except msgspec.ValidationError as e:
            errors.append({"field": "", "message": str(e)})
    return errors
