"""``/api/health``, ``/api/supervisors`` and ``/metrics`` on the real app."""

from __future__ import annotations

from messages.events import ActorRestarted
from tests.unit.web.conftest import WebFixture

NOW = "2026-01-01T00:00:00Z"


async def test_health_needs_no_token_and_says_where_the_stream_is(web_app: WebFixture) -> None:
    web_app.feed.publish(ActorRestarted(timestamp=NOW, name="critic", old_pid=1, new_pid=2,
                                        reason="test", restarts=1))
    status, body = await web_app.call("GET", "/api/health", token=False)
    assert status == 200 and body["status"] == "ok" and body["last_seq"] == 1
    assert body["clients"] == 0 and body["uptime_s"] >= 0


async def test_supervisors_show_the_tree_the_root_pushed(web_app: WebFixture) -> None:
    status, tree = await web_app.call("GET", "/api/supervisors")
    assert status == 200 and tree["name"] == "root"
    assert [child["name"] for child in tree["children"]] == ["core", "trading"]
    assert (await web_app.call("GET", "/api/supervisors", token=False))[0] == 401


async def test_metrics_count_restarts_by_name(web_app: WebFixture) -> None:
    for restarts in (1, 2):
        web_app.feed.publish(ActorRestarted(timestamp=NOW, name="critic", old_pid=1,
                                            new_pid=2, reason="test", restarts=restarts))
    status, text = await web_app.call("GET", "/metrics")
    assert status == 200
    assert 'ensemble_actor_restarts_total{name="critic"} 2' in text.splitlines()
    assert "ensemble_last_event_seq 2" in text.splitlines()


async def test_the_dashboard_page_and_its_files_need_no_token(web_app: WebFixture) -> None:
    status, page = await web_app.call("GET", "/", token=False)
    assert status == 200 and "<html" in page.lower()
    status, script = await web_app.call("GET", "/static/js/api.js", token=False)
    assert status == 200 and "Authorization" in script
    status, body = await web_app.call("GET", "/static/../app.py", token=False)
    assert status in (401, 403, 404) and "import" not in str(body)
