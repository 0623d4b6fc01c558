"""`GET /metrics` over a live server: Prometheus text for the Office and auditors, refused to others."""

from __future__ import annotations

import re

from tests.api.test_catalog_api import org, token


def sample(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        m = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if m and (m.group(1) or "") == want:
            return float(m.group(2))
    return None


def test_metrics_count_requests_by_route_template_and_report_lag(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    for _ in range(3):
        assert office.get("/organizations/div-relief").status_code == 200
    assert office.get("/organizations/nowhere").status_code == 404
    r = office.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, "civic_ledger_http_requests_total", method="GET", route="/organizations/{code}",
                  status="200") == 3
    assert sample(text, "civic_ledger_http_requests_total", method="GET", route="/organizations/{code}",
                  status="404") == 1
    assert sample(text, "civic_ledger_http_request_duration_seconds_count", route="/organizations/{code}") == 4
    assert sample(text, "civic_ledger_ledger_position") == runtime.ledger.max_position()
    assert sample(text, "civic_ledger_projection_lag_events", view="catalog") is not None
    assert "/organizations/div-relief" not in text          # raw paths never become series


def test_metrics_count_grant_status_answers_from_the_cache_and_from_the_view(server, admin_token):
    office = server.client(admin_token)
    question = {"holder": "div-h1", "entry_id": "00000000-0000-4000-8000-000000000001", "fields": "A_1",
                "purpose": "核对", "method": "interface"}
    for _ in range(3):
        r = office.get("/grant-status", params=question)
        assert r.status_code == 200 and r.json()["allowed"] is False
    text = office.get("/metrics").text

    def of_this_process(name: str) -> float:  # labelled by pid, host and role
        return float(next(line for line in text.splitlines() if line.startswith(name + "{")).rsplit(" ", 1)[1])

    assert of_this_process("civic_ledger_process_grant_cache_misses_total") == 1
    assert of_this_process("civic_ledger_process_grant_cache_hits_total") == 2


def test_metrics_are_for_the_office_and_auditors(server, runtime, admin_token):
    office = server.client(admin_token)
    org(office, "div-relief")
    assert server.client().get("/metrics").status_code == 401
    compiler = server.client(token(runtime, "div-relief", "王敏", "catalog_compiler"))
    refused = compiler.get("/metrics")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    auditor = server.client(token(runtime, "office", "审计员", "auditor"))
    assert auditor.get("/metrics").status_code == 200


def test_the_exposition_is_prometheus_text_that_the_client_library_parses(server, runtime, admin_token):
    from prometheus_client.parser import text_string_to_metric_families

    office = server.client(admin_token)
    org(office, "div-relief")
    r = office.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["civic_ledger_http_requests"].type == "counter"
    assert families["civic_ledger_http_request_duration_seconds"].type == "histogram"
    assert families["civic_ledger_ledger_position"].type == "gauge"
    assert families["civic_ledger_process_terms"].type == "counter"
    assert {s.labels["view"] for s in families["civic_ledger_projection_lag_events"].samples} == \
        set(runtime.projector.views)
    assert not any(name.endswith("_created") for f in families.values() for name in (s.name for s in f.samples))
    openmetrics = office.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
