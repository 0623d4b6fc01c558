"""Declared decision routes are named by the controller attribute they are assigned to, as methods are: the
operationId, the summary and the order among a controller's handlers follow from that name (decision 0028)."""

from __future__ import annotations

import inspect

import pytest
from litestar import Controller
from litestar.handlers import HTTPRouteHandler

from api import catalog, compliance, maintenance, organizations, sharing, systems
from api.routes import Declared

CONTROLLERS = [c for m in (catalog, compliance, maintenance, organizations, sharing, systems)
               for _, c in inspect.getmembers(m, inspect.isclass)
               if issubclass(c, Controller) and c.__module__ == m.__name__]


@pytest.mark.parametrize("controller", CONTROLLERS, ids=lambda c: c.__name__)
def test_every_handler_is_named_by_its_attribute(controller: type[Controller]) -> None:
    handlers = {name: h for name, h in vars(controller).items() if isinstance(h, HTTPRouteHandler)}
    assert handlers
    for name, handler in handlers.items():
        fn = handler.fn
        assert (fn.__name__, fn.__qualname__, fn.__module__) == (name, f"{controller.__qualname__}.{name}",
                                                                controller.__module__)


def test_a_declared_handler_has_the_signature_litestar_reads() -> None:
    retire = catalog.CatalogController.retire
    assert isinstance(retire, Declared)
    assert retire.paths == {"/entries/{entry_id:uuid}/retire"} and retire.http_methods == {"POST"}
    assert list(inspect.signature(retire.fn).parameters) == ["self", "principal", "catalog", "envelope", "entry_id",
                                                            "data"]
    assert inspect.signature(retire.fn).return_annotation.__args__ == (catalog.EntryAnswer,)
