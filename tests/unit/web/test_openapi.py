"""``/api/openapi.json`` against the app's own route table: every route the app serves is
described, and nothing is described that the app does not serve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from aiohttp import web

from messages.codec import to_wire
from messages.events import PositionUpdate
from tests.support.rows import position_row
from tests.unit.web.conftest import WebFixture
from web.api_spec import Operation, Param, json_answer, openapi_document, record_schema


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route, without the HEAD twin aiohttp adds to a GET."""
    served = set()
    for route in app.router.routes():
        assert route.resource is not None
        served.add((route.method, route.resource.canonical))
    return {(method, path) for method, path in served
            if method != "HEAD" or ("GET", path) not in served}


async def test_the_description_covers_the_route_table_exactly(web_app: WebFixture) -> None:
    status, document = await web_app.call("GET", "/api/openapi.json", token=False)
    assert status == 200
    described = {(method.upper(), path) for path, methods in document["paths"].items()
                 for method in methods}
    served = served_routes(web_app.client.server.app)
    assert ("POST", "/api/control/{command}") in served
    assert ("GET", "/static/{filename}") in served
    assert served - described == set(), "routes the description leaves out"
    assert described - served == set(), "described routes the app does not serve"


async def test_every_operation_says_what_it_answers(web_app: WebFixture) -> None:
    _, document = await web_app.call("GET", "/api/openapi.json", token=False)
    assert document["openapi"].startswith("3.1")
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            answers = operation["responses"]
            assert any(code.startswith("2") or code == "101" for code in answers), (method, path)
            assert "421" in answers
            public = operation.get("security") == []
            assert ("401" in answers) is not public, (method, path)
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == {part[1:-1] for part in path.split("/") if part.startswith("{")}
    health = document["paths"]["/api/health"]["get"]
    assert health["security"] == [] and set(health["responses"]) >= {"200", "503"}


async def test_the_description_names_parameters_with_their_limits(web_app: WebFixture) -> None:
    _, document = await web_app.call("GET", "/api/openapi.json", token=False)
    events = {p["name"]: p for p in document["paths"]["/api/events"]["get"]["parameters"]}
    assert events["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}
    control = document["paths"]["/api/control/{command}"]["post"]
    assert control["parameters"][0]["schema"]["enum"] == [
        "pause", "resume", "kill-switch", "reset-kill-switch", "close-all"]
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "detail"]


def test_a_path_parameter_left_undescribed_or_an_operation_twice_is_refused() -> None:
    op = Operation("GET", "/api/kv/{key}", "one key", ok={200: json_answer("it", {})})
    with pytest.raises(ValueError, match="key"):
        openapi_document([op], "0")
    described = Operation("GET", "/api/kv/{key}", "one key", ok={200: json_answer("it", {})},
                          params=(Param("key", "the key", where="path"),))
    assert "/api/kv/{key}" in openapi_document([described], "0")["paths"]
    with pytest.raises(ValueError, match="twice"):
        openapi_document([described, described], "0")


async def test_the_position_rows_described_are_the_rows_the_broker_sends(
        web_app: WebFixture) -> None:
    _, document = await web_app.call("GET", "/api/openapi.json", token=False)
    schema = document["paths"]["/api/positions"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["items"]
    row = to_wire(PositionUpdate(timestamp="t", positions=(position_row(),)))["positions"][0]
    assert set(schema["properties"]) == set(row)
    assert {"ticket", "symbol", "direction", "volume", "sl_price", "tp_price"} <= set(
        schema["required"])
    assert "strategy" not in schema["required"]  # it has a default
    assert schema["properties"]["direction"] == {"enum": ["BUY", "SELL"]}
    assert schema["properties"]["ticket"] == {"type": "integer"}


def test_a_record_field_with_no_wire_schema_is_refused_when_described() -> None:
    @dataclass
    class Odd:
        when: datetime

    with pytest.raises(TypeError, match="no wire schema"):
        record_schema(Odd)
