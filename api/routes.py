"""The shapes most routes share, written once: a decision on one object, a page of rows, one row (decision 0028).

A decision route takes the caller, the service, the write's envelope, the object's path parameters and a
body, and answers what the use case answers: `service.verb(principal, envelope.command(name, body),
*path values, **body fields)`. `Decisions` declares them a line or two each in the controller that serves
them, with the real types, so Litestar derives the same handler — the same parameters, body, answer,
operationId and summary — as a handler written out by hand would give:

    decide = Decisions("catalog", CatalogService, EntryAnswer, entry_id=FromPath[UUID])

    class CatalogController(Controller):
        path = "/catalog"
        retire = decide("/entries/{entry_id:uuid}/retire", CatalogService.retire, "catalog.retire", ReasonBody)

serves `POST /catalog/entries/{entry_id}/retire` from the handler `retire`, calling `catalog.retire`.
`Rows` declares the reads of one row (`GET /catalog/entries/{entry_id}`) the same way; `page` and `found`
are the answers of the handlers written out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from inspect import Parameter, Signature
from typing import Any, TypeVar

import msgspec
from litestar import Response
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from api.deps import Envelope, Reads, answer
from application.common import NotFound, Principal
from projections.scope import Scope

_PLACEHOLDER = re.compile(r"{(\w+)(?::\w+)?}")

T = TypeVar("T")
R = TypeVar("R")

Args = Callable[[Any], Mapping[str, Any]]
"""What a decision passes its use case beside the path values, from the body (by default its fields, by name)."""


def fields_of(body: msgspec.Struct) -> dict[str, Any]:
    """A body's fields by name: the keyword arguments of most use cases."""
    return {name: getattr(body, name) for name in body.__struct_fields__}


class Decisions:
    """The decision routes of one service: its dependency name and type, what its writes answer, and the
    annotations of the path parameters its routes take (in the order a route's path names them)."""

    def __init__(self, service: str, kind: type, answers: type, **params: Any) -> None:
        self.service, self.kind, self.answers, self.params = service, kind, answers, params

    def __call__(self, path: str, use_case: Callable[..., Any], command: str, body: type | None = None, *,
                 optional: bool = False, args: Args = fields_of, by_name: bool = False, status_code: int = 200,
                 location: str | None = None, http: str = "POST", answers: type | None = None,
                 doc: str | None = None) -> HTTPRouteHandler:
        """The handler of `http path` (relative to its controller), named by the controller's attribute it is
        assigned to: it calls the service's `use_case` under the command `command` with the body (`optional`:
        a missing body is `body()`). The path values go first, positionally, or `by_name` as keywords;
        `location` (201) is formatted with the body's fields, the path values and the new object's
        `aggregate_id`; `answers`, when this use case answers another Struct than the service's others."""
        ids = _PLACEHOLDER.findall(path)
        verb, service, default = use_case.__name__, self.service, body if optional else None

        def handler(self: Any, **kw: Any) -> Response[Any]:
            data = kw.get("data") if body is not None else None
            data = default() if data is None and default is not None else data
            given = args(data) if data is not None else {}
            values = [kw[i] for i in ids]
            call = getattr(kw[service], verb)
            cmd = kw["envelope"].command(command, data)
            result = (call(kw["principal"], cmd, **dict(zip(ids, values, strict=True)), **given) if by_name
                      else call(kw["principal"], cmd, *values, **given))
            if location is None:
                return answer(result)
            return answer(result, location=location.format(**given, **dict(zip(ids, values, strict=True)),
                                                           aggregate_id=result.aggregate_id))

        parameters = [Parameter("self", Parameter.POSITIONAL_OR_KEYWORD),
                      _named("principal", NamedDependency[Principal]),
                      _named(service, NamedDependency[self.kind]),  # type: ignore[name-defined]
                      _named("envelope", NamedDependency[Envelope]),
                      *(_named(i, self.params[i]) for i in ids)]
        if body is not None:
            asked = JSONBody[body | None] if optional else JSONBody[body]  # type: ignore[valid-type]
            parameters.append(_named("data", asked, default=None) if optional else _named("data", asked))
        return _declare(handler, path, http, status_code, parameters, answers or self.answers, doc)


class Rows:
    """The single-row reads of one query object: its dependency name and type, the view they wait for, how a
    path value becomes the query's key (`key`), and the annotations of the path parameters."""

    def __init__(self, queries: str, kind: type, view: str, *, key: Callable[[Any], Any] = lambda value: value,
                 **params: Any) -> None:
        self.queries, self.kind, self.view, self.key, self.params = queries, kind, view, key, params

    def __call__(self, path: str, query: Callable[..., Any], answers: type, missing: str, *, now: bool = False,
                 doc: str | None = None) -> HTTPRouteHandler:
        """`GET path`: after read-your-writes on the view, the row `query(key, scope=…)` answers (with `now=`
        when `now`), its version as the ETag; 404 `missing` (formatted with the path value) when the caller's
        scope sees none."""
        [ident] = _PLACEHOLDER.findall(path)
        name, queries, view, key = query.__name__, self.queries, self.view, self.key

        def handler(self: Any, **kw: Any) -> Response[Any]:
            kw["reads"].wait(view)
            when = {"now": kw["now"]} if now else {}
            return found(getattr(kw[queries], name)(key(kw[ident]), scope=Scope.of(kw["principal"]), **when),
                         missing.format(**{ident: kw[ident]}))

        parameters = [Parameter("self", Parameter.POSITIONAL_OR_KEYWORD),
                      _named("principal", NamedDependency[Principal]),
                      _named(queries, NamedDependency[self.kind]),  # type: ignore[name-defined]
                      _named("reads", NamedDependency[Reads]),
                      *([_named("now", NamedDependency[datetime])] if now else []),
                      _named(ident, self.params[ident])]
        return _declare(handler, path, "GET", 200, parameters, answers, doc)


def _declare(handler: Callable[..., Any], path: str, http: str, status_code: int, parameters: list[Parameter],
             answers: type, doc: str | None) -> HTTPRouteHandler:
    """The route of a built handler, with the signature and annotations Litestar reads as a written one's."""
    returns = Response[answers]  # type: ignore[valid-type]
    handler.__doc__ = doc
    handler.__signature__ = Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    handler.__annotations__ = {p.name: p.annotation for p in parameters[1:]} | {"return": returns}
    return Declared(path, http_method=http, sync_to_thread=True, status_code=status_code)(handler)


class Declared(HTTPRouteHandler):
    """A declared handler takes the name of the controller's attribute it is assigned to, as a method would:
    its operationId, summary and place among the controller's handlers follow from that name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._fn.__name__, self._fn.__qualname__ = name, f"{owner.__qualname__}.{name}"
        self._fn.__module__ = owner.__module__


def _named(name: str, annotation: Any, **default: Any) -> Parameter:
    return Parameter(name, Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, **default)


def page(rows: list[T], next_cursor: str | None, position: int | None,
         cut: Mapping[str, Any] | None = None) -> Response[Any]:
    """A page of rows, the cursor of the next, the cut a past read was read at, and the position it stands on."""
    return Response({"items": rows, "next_cursor": next_cursor, **(cut or {}), "position": position})


def found(row: R | None, missing: str) -> Response[R]:
    """One row the caller's scope sees, with its version as the ETag; 404 when there is none it sees (a query
    answers None for a row out of the caller's scope)."""
    if row is None:
        raise NotFound(missing)
    return Response(row, headers={"ETag": f'"{row.version}"'})  # type: ignore[attr-defined]
