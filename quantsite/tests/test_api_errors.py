"""API errors the web tier answers itself: a NUL character refused, a URL under /api/ that matches
no route, the schema endpoint's errors; all in the error shape, as JSON."""

import pytest

NUL_REFUSED = {"error": "invalid_input", "message": "a NUL character is not accepted", "details": {}}


@pytest.mark.django_db
def test_a_nul_character_anywhere_in_an_api_request_is_refused_in_the_error_shape(api):
    # PostgreSQL stores no NUL in text or JSON: it must never reach a query
    answers = [
        api.get("/api/v1/instruments/AA%00A/"),
        api.get("/api/v1/strategies/?name=a%00b"),
        api.post("/api/v1/controls/kill-switch/", {"reason": "a\x00b"}),
    ]

    assert [(r.status_code, r.json()) for r in answers] == [(400, NUL_REFUSED)] * 3


@pytest.mark.django_db
def test_a_url_under_the_api_that_matches_no_route_is_a_404_in_the_error_shape(api, client):
    response = api.get("/api/v1/positions/-1/close/")

    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "no such resource: /api/v1/positions/-1/close/",
        "details": {},
    }
    assert client.get("/nowhere/")["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_the_schema_endpoint_answers_its_errors_in_json(anon):
    response = anon.get("/api/schema/")

    assert (response.status_code, response["Content-Type"]) == (401, "application/json")
    assert response.json()["error"] == "not_authenticated"
