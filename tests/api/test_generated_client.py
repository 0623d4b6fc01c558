"""The served OpenAPI document is a contract a client generator can build on (decision 0016).

The document passes openapi-spec-validator; a typed client generated from it by openapi-python-client
(offline, into a temporary directory) drives one walk-through against a live server on each store:
a catalog entry drafted to published, a share request to its grant, and a grant-status question —
every body built from and every answer read through the generated models.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openapi_spec_validator import validate

from tests.api.test_catalog_api import PASS, token
from tests.api.test_sharing_api import request_body
from tests.support import content

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
_generated: dict[str, Any] = {}


def served_document(server) -> dict[str, Any]:
    with server.client() as anon:
        r = anon.get("/schema/openapi.json")
        assert r.status_code == 200
        return r.json()


def generated_client(document: dict[str, Any], workdir: Path) -> Any:
    """The client package generated from `document` (once per document in a test session)."""
    raw = json.dumps(document, sort_keys=True).encode()
    digest = hashlib.sha256(raw).hexdigest()[:12]
    if digest in _generated:
        return _generated[digest]
    name = f"civic_ledger_client_{digest}"
    spec = workdir / "openapi.json"
    spec.write_bytes(raw)
    run = subprocess.run([str(GENERATOR), "generate", "--path", str(spec), "--meta", "none",
                          "--output-path", str(workdir / name)],
                         capture_output=True, text=True, timeout=300, cwd=workdir,
                         env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    sys.path.insert(0, str(workdir))
    try:
        package = importlib.import_module(name)
    finally:
        sys.path.remove(str(workdir))
    _generated[digest] = package
    return package


def module(package: Any, path: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{path}")


def test_the_served_document_is_valid_openapi(server):
    document = served_document(server)
    validate(document)  # raises on the first violation of the OpenAPI 3.1 schema
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer",
                                                                      "description": document["components"][
                                                                          "securitySchemes"]["bearerAuth"][
                                                                          "description"]}


@pytest.mark.skipif(not GENERATOR.exists(), reason="openapi-python-client is a dev dependency")
def test_a_generated_client_drives_the_walkthrough(server, runtime, admin_token, tmp_path_factory):
    package = generated_client(served_document(server), tmp_path_factory.mktemp("client"))
    models = module(package, "models")

    def client(bearer: str) -> Any:
        return package.AuthenticatedClient(base_url=server.url, token=bearer, raise_on_unexpected_status=True,
                                           timeout=package.client.httpx.Timeout(30.0))

    office = client(admin_token)
    register = module(package, "api.organizations.organizations_register")
    for code in ("div-relief", "div-elder", "div-other"):
        made = register.sync_detailed(client=office, body=models.RegisterBody(
            code=code, name=code, kind=models.OrgKind.DIVISION, level=models.Level.PROVINCE, parent="office"))
        assert made.status_code == 201 and isinstance(made.parsed, models.OrganizationAnswer)

    # a catalog entry, drafted to published
    compiler = client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    reviewer = client(token(runtime, "div-relief", "李强", "catalog_reviewer"))
    catalog = "api.catalog.catalog_entries_"
    drafted = module(package, catalog + "draft").sync_detailed(client=compiler, body=models.DraftBody(
        resource_code="SX-MZ-GEN", content=models.EntryContent.from_dict(msgspec.to_builtins(content()))))
    assert drafted.status_code == 201, drafted.content
    entry = drafted.parsed
    assert isinstance(entry, models.EntryAnswer) and entry.status == "drafted"
    assert drafted.headers["location"] == f"/catalog/entries/{entry.id}"
    submitted = module(package, catalog + "entry_id_submit_submit").sync(entry.id, client=compiler)
    assert isinstance(submitted, models.EntryAnswer) and submitted.status == "submitted"
    reviewed = module(package, catalog + "entry_id_review_review").sync(
        entry.id, client=reviewer, body=models.CatalogReviewBody.from_dict(PASS))
    assert isinstance(reviewed, models.EntryAnswer)
    published = module(package, catalog + "entry_id_publish_publish").sync(entry.id, client=office,
                                                                      body=models.PublishBody())
    assert isinstance(published, models.EntryAnswer) and published.status == "published"

    # a share request, reviewed and ordered: its grant
    requester = client(token(runtime, "div-elder", "周敏", "requester"))
    sharing = "api.sharing.share_requests_"
    asked = module(package, sharing + "submit").sync(
        client=requester, body=models.RequestBody.from_dict(request_body(entry.id, ["DB_NAME"])))
    assert isinstance(asked, models.RequestAnswer) and asked.status == "submitted"
    approved = module(package, sharing + "request_id_review_review").sync(
        asked.id, client=office, body=models.SharingReviewBody(decision=models.RequestDecision.APPROVE))
    assert isinstance(approved, models.RequestAnswer) and approved.status == "approved"
    ordered = module(package, sharing + "request_id_orders_issue_order").sync_detailed(asked.id, client=office,
                                                                                    body=models.OrderBody())
    assert ordered.status_code == 201 and isinstance(ordered.parsed, models.OrderAnswer)
    [grant_id] = ordered.parsed.new_grants
    position = ordered.headers["x-ledger-position"]

    # the platform asks whether the holder may receive the field now
    platform = client(token(runtime, "office", "交换平台", "platform")).with_headers({"X-Min-Position": position})
    status = module(package, "api.sharing.grant_status_ask")
    answer = status.sync(client=platform, holder="div-elder", entry_id=entry.id, fields=["DB_NAME"],
                         purpose="高龄津贴资格核对", method="interface")
    assert isinstance(answer, models.StatusAnswer)
    assert answer.allowed is True and str(answer.grant_id) == grant_id and answer.kind == "reusable"
    # a refusal is a typed Problem: a field outside the grant is not allowed, with the rule that says so
    narrower = status.sync(client=platform, holder="div-elder", entry_id=entry.id, fields=["DB_ID"],
                           purpose="高龄津贴资格核对", method="interface")
    assert isinstance(narrower, models.StatusAnswer) and narrower.allowed is False
    stranger = client(token(runtime, "div-other", "路人", "requester"))
    refused = status.sync(client=stranger, holder="div-elder", entry_id=entry.id, fields=["DB_NAME"],
                          purpose="高龄津贴资格核对", method="interface")
    assert isinstance(refused, models.Problem) and refused.status == 403


def test_the_edge_answers_what_the_document_says(server, admin_token):
    """A date-time is RFC 3339 text, not a number; OPTIONS names every method of the path; an enum filter
    refuses a value outside it."""
    with server.client(admin_token) as office:
        for query in ({"at": "0.5"}, {"at": "1700000000"}, {"as_known_at": "12"}):
            r = office.get("/state", params=query)
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"][0]["field"] == next(iter(query))
        assert office.get("/state", params={"at": "2026-03-31T16:00:00Z"}).status_code == 200
        assert office.get("/grant-reviews", params={"status": "whatever"}).status_code == 400
        assert office.get("/grant-reviews", params={"status": "open"}).status_code == 200
        document = office.get("/schema/openapi.json").json()
        for path in ("/webhooks", "/webhooks/{sid}", "/catalog/entries", "/grant-status"):
            concrete = path.replace("{sid}", "wh_1")
            allowed = {m.strip() for m in office.options(concrete).headers["allow"].split(",")}
            assert {m.upper() for m in document["paths"][path]} | {"OPTIONS"} <= allowed, path
