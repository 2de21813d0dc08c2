"""``/api/sim/faults``: checked before any actor hop, refused when the broker has no fault
switches, forwarded to the broker otherwise."""

from __future__ import annotations

import pytest

from messages.trading import SetSimFaults, SimFaultsReply
from tests.unit.web.conftest import WebFixture, make_context
from web.core import BrokerFacts, WebContext


def broker_applies(request: SetSimFaults) -> SimFaultsReply:
    return SimFaultsReply(request.request_id, 200, {"disconnect": False, **request.changes})


async def test_a_change_is_applied_by_the_broker(web_app: WebFixture) -> None:
    web_app.responder.on(SetSimFaults, broker_applies)
    status, body = await web_app.call("POST", "/api/sim/faults", json={"disconnect": True})
    assert status == 200 and body["faults"]["disconnect"] is True
    (request,) = [r for r in web_app.responder.received if isinstance(r.message, SetSimFaults)]
    assert request.role == "broker" and request.message.changes == {"disconnect": True}


@pytest.mark.parametrize(("body", "named"), [
    ({"disconect": True}, "'disconect'"), ({"requote_rate": 3}, "requote_rate"),
    ({"no_money": "yes"}, "no_money"),
])
async def test_a_bad_change_is_a_400_without_an_actor_hop(web_app: WebFixture, body: dict,
                                                          named: str) -> None:
    status, answer = await web_app.call("POST", "/api/sim/faults", json=body)
    assert status == 400 and named in answer["detail"]
    assert web_app.responder.hops == []


class TestARealBroker:
    @pytest.fixture
    def context(self) -> WebContext:
        return make_context(BrokerFacts(name="mt5linux", fault_switches=False))

    async def test_has_no_fault_switches(self, web_app: WebFixture) -> None:
        status, body = await web_app.call("GET", "/api/sim/faults")
        assert status == 409 and body["error"] == "not_simulated" and "mt5linux" in body["detail"]
        assert web_app.responder.hops == []
