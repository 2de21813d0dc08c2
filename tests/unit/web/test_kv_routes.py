"""``/api/kv`` on the real app, answered by SharedState's own logic over a real state.db."""

from __future__ import annotations

import pytest

from actors.shared_state.keys import OPERATOR_PREFIX
from actors.shared_state.store import Quota
from tests.unit.web.conftest import WebFixture


async def test_an_operator_key_round_trips(web_app: WebFixture) -> None:
    status, body = await web_app.call("PUT", "/api/kv/ops.note", json={"value": {"a": [1, 2]}})
    assert status == 200 and body["value"] == {"a": [1, 2]} and body["updated_at"]
    status, body = await web_app.call("GET", "/api/kv/ops.note")
    assert status == 200 and body["value"] == {"a": [1, 2]}
    status, listing = await web_app.call("GET", "/api/kv?prefix=ops.")
    assert listing["items"] == {"ops.note": {"a": [1, 2]}} and "ops.note" in listing["updated_at"]
    assert (await web_app.call("DELETE", "/api/kv/ops.note"))[1]["deleted"] is True
    assert (await web_app.call("GET", "/api/kv/ops.note"))[0] == 404


@pytest.mark.parametrize(("method", "path"), [
    ("PUT", "/api/kv/risk.state"), ("DELETE", "/api/kv/broker.intent.1"),
    ("POST", "/api/kv/kill_switch/increment"), ("POST", "/api/kv/x/cas"),
])
async def test_only_operator_keys_can_be_written(web_app: WebFixture, method: str,
                                                 path: str) -> None:
    status, body = await web_app.call(method, path, json={"value": 1, "op_id": "a", "new": 1})
    assert status == 403 and body["error"] == "forbidden_key" and "'ops.'" in body["detail"]
    assert web_app.responder.hops == []  # refused before any actor hop


async def test_a_retried_increment_applies_once(web_app: WebFixture) -> None:
    for _ in range(3):
        status, body = await web_app.call("POST", "/api/kv/ops.count/increment",
                                          json={"delta": 2, "op_id": "retry-me"})
        assert status == 200 and body["value"] == 2
    status, body = await web_app.call("POST", "/api/kv/ops.count/increment", json={"delta": 2})
    assert status == 400 and "op_id" in body["detail"]


async def test_compare_and_set_conflicts_name_the_current_value(web_app: WebFixture) -> None:
    status, _ = await web_app.call("POST", "/api/kv/ops.flag/cas",
                                   json={"expected": None, "new": "on", "op_id": "1"})
    assert status == 200
    status, body = await web_app.call("POST", "/api/kv/ops.flag/cas",
                                      json={"expected": "off", "new": "x", "op_id": "2"})
    assert status == 409 and body["current"] == "on"


@pytest.mark.parametrize("raw", [b"", b"[1]", b"{", b"\xff\xfe", b'"text"'])
async def test_a_body_that_is_not_a_json_object_is_a_400(web_app: WebFixture, raw: bytes) -> None:
    status, body = await web_app.call("PUT", "/api/kv/ops.x", data=raw,
                                      headers={"Content-Type": "application/json"})
    assert status == 400 and body["error"] == "bad_body"


async def test_a_value_the_store_refuses_is_a_400_with_its_reason(web_app: WebFixture) -> None:
    status, body = await web_app.call("POST", "/api/kv/ops.n/increment",
                                      json={"delta": "two", "op_id": "z"})
    assert status == 400 and body["error"] == "rejected" and body["detail"]


async def test_the_listing_pages_in_key_order(web_app: WebFixture) -> None:
    for n in range(7):
        assert (await web_app.call("PUT", f"/api/kv/ops.k{n}", json={"value": n}))[0] == 200
    seen: list[str] = []
    after = ""
    while True:
        status, page = await web_app.call("GET", f"/api/kv?prefix=ops.k&limit=3&after={after}")
        assert status == 200 and len(page["items"]) <= 3
        assert set(page["updated_at"]) == set(page["items"])
        seen += list(page["items"])
        if page["next"] is None:
            break
        after = page["next"]
    assert seen == [f"ops.k{n}" for n in range(7)]
    status, body = await web_app.call("GET", "/api/kv?limit=0")
    assert status == 400 and body["parameter"] == "limit"


class TestTheOperatorQuota:
    @pytest.fixture
    def quota(self) -> Quota:
        return Quota(OPERATOR_PREFIX, 3, 64)

    async def test_limits_the_number_of_keys(self, web_app: WebFixture) -> None:
        for n in range(3):
            assert (await web_app.call("PUT", f"/api/kv/ops.q{n}", json={"value": n}))[0] == 200
        status, body = await web_app.call("PUT", "/api/kv/ops.q3", json={"value": 3})
        assert status == 400 and "3 keys under 'ops.'" in body["detail"]
        status, body = await web_app.call("POST", "/api/kv/ops.q4/increment",
                                          json={"op_id": "i"})
        assert status == 400 and "delete one first" in body["detail"]
        assert (await web_app.call("PUT", "/api/kv/ops.q0", json={"value": "again"}))[0] == 200
        assert (await web_app.call("DELETE", "/api/kv/ops.q0"))[0] == 200
        assert (await web_app.call("PUT", "/api/kv/ops.q3", json={"value": 3}))[0] == 200

    async def test_limits_the_size_of_a_value(self, web_app: WebFixture) -> None:
        status, body = await web_app.call("PUT", "/api/kv/ops.big", json={"value": "x" * 100})
        assert status == 400 and "at most 64" in body["detail"]
        status, body = await web_app.call("POST", "/api/kv/ops.big/cas",
                                          json={"new": "x" * 100, "op_id": "c"})
        assert status == 400 and "at most 64" in body["detail"]
        assert (await web_app.call("GET", "/api/kv/ops.big"))[0] == 404


async def test_an_op_id_reused_for_another_operation_is_a_409(web_app: WebFixture) -> None:
    status, _ = await web_app.call("POST", "/api/kv/ops.c/cas", json={"op_id": "o1", "new": 1})
    assert status == 200
    status, body = await web_app.call("POST", "/api/kv/ops.c/increment", json={"op_id": "o1"})
    assert (status, body["error"]) == (409, "conflict")
    assert "op_id 'o1' was already used for cas of 'ops.c'" in body["detail"]
    assert (await web_app.call("GET", "/api/kv/ops.c"))[1]["value"] == 1
