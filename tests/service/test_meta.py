"""Health, readiness, the OpenAPI document and the error envelope for framework errors."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_openapi_document_is_valid_and_lists_offers(client):
    doc = client.get("/openapi.json").get_json()
    validate(doc)
    assert {"get", "post"} <= set(doc["paths"]["/v1/offers"])
    assert "OfferIn" in doc["components"]["schemas"]


def test_unknown_route_and_method_are_problem_json(client):
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    resp = client.delete("/v1/offers")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]


def test_oversized_body_gets_413(app, client, make_token):
    headers = make_token("agency", agency_id="vhs")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    resp = client.post(
        "/v1/offers", data="x" * 2048, headers={**headers, "Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and resp.mimetype == "application/problem+json"
