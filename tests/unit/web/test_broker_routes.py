"""``GET /api/broker`` on the real app, the broker played by a declared reply."""

from __future__ import annotations

from messages.trading import (
    BrokerProfile,
    BrokerSnapshot,
    BrokerSnapshotRequest,
    ReconnectBroker,
)
from tests.unit.web.conftest import WebFixture

PROFILE = BrokerProfile(kind="sim", connected=True, server="EnsembleSim-Demo",
                        company="Ensemble Simulated Markets Ltd.", account=51234567,
                        currency="USD", trade_mode="demo", server_utc_offset_s=10_800,
                        speed=120.0, commission_per_lot=7.0, fault_switches=True)


def broker_answers(profile: BrokerProfile | None) -> object:
    def reply(request: BrokerSnapshotRequest) -> BrokerSnapshot:
        return BrokerSnapshot(request.request_id, connected=True, reconciled=True,
                              server_time=1_767_225_600.0, account=None, positions=(),
                              orders=(), profile=profile)
    return reply


async def test_the_broker_says_what_it_is_and_its_servers_clock(web_app: WebFixture) -> None:
    web_app.responder.on(BrokerSnapshotRequest, broker_answers(PROFILE))
    status, body = await web_app.call("GET", "/api/broker")
    assert status == 200
    assert {key: body[key] for key in ("kind", "connected", "server", "account", "trade_mode",
                                       "server_utc_offset_s")} == {
        "kind": "sim", "connected": True, "server": "EnsembleSim-Demo", "account": 51234567,
        "trade_mode": "demo", "server_utc_offset_s": 10_800}
    assert body["reconciled"] is True and body["fault_switches"] is True
    (request,) = [r for r in web_app.responder.received
                  if isinstance(r.message, BrokerSnapshotRequest)]
    assert request.role == "broker"
    assert (await web_app.call("GET", "/api/broker", token=False))[0] == 401


async def test_a_broker_without_a_terminal_yet_is_a_503(web_app: WebFixture) -> None:
    web_app.responder.on(BrokerSnapshotRequest, broker_answers(None))
    status, body = await web_app.call("GET", "/api/broker")
    assert status == 503 and body["error"] == "unavailable"


async def test_the_operator_reconnects_the_broker(web_app: WebFixture) -> None:
    def reply(request: ReconnectBroker) -> BrokerSnapshot:
        return BrokerSnapshot(request.request_id, connected=False, reconciled=False,
                              server_time=0.0, account=None, positions=(), orders=(),
                              profile=PROFILE)

    web_app.responder.on(ReconnectBroker, reply)
    assert (await web_app.call("POST", "/api/broker/reconnect", token=False))[0] == 401
    status, body = await web_app.call("POST", "/api/broker/reconnect")
    assert status == 202 and body == {"connected": False, "reconciled": False}
    assert [r.role for r in web_app.responder.received] == ["broker"]
