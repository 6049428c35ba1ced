"""One truth for counts: "firing" means firing and not silenced, and the nav badge, the "alerts
firing" tile, the banner, the alerts page's state filter and tabs, and the diagnostics API all
say the same numbers for the same alerts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories.console import ConsoleData, add_alerts_in_each_state, build_console_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def data() -> ConsoleData:
    built = build_console_data()
    add_alerts_in_each_state()
    return built


def _text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no element #{element_id}"
    return found.group(1).strip()


def _listed_alert_ids(html: str) -> set[str]:
    return set(re.findall(r'data-alert-id="([^"]+)"', html))


def test_badge_tile_banner_filter_and_api_agree_on_each_state(
    staff_client: Client, data: ConsoleData
) -> None:
    dashboard = staff_client.get(reverse("console:dashboard")).content.decode()
    assert _text_of(dashboard, "nav-firing-count") == "2"
    assert _text_of(dashboard, "summary-firing") == "2"
    assert "2 alerts firing" in dashboard

    expected = {
        "firing": {"backlog:stale", "planner:recent-failures"},
        "acknowledged": {"backlog:orphaned"},
        "silenced": {"lore:blocked"},
        "resolved": {"template-fallback:vision"},
    }
    alerts_url = reverse("console:alerts")
    for state, alert_ids in expected.items():
        listed = staff_client.get(alerts_url, {"state": state}).content.decode()
        assert _listed_alert_ids(listed) == alert_ids, state
        assert _text_of(listed, f"alerts-count-{state}") == str(len(alert_ids))

    api = staff_client.get(reverse("api-diagnostics-planner")).json()
    assert api["ops_alerts"] == {"firing": 2, "acknowledged": 1, "silenced": 1, "resolved": 1}


def test_a_silenced_alert_leaves_the_badge_and_is_not_offered_as_firing(
    staff_client: Client, data: ConsoleData
) -> None:
    staff_client.post(
        reverse("console:silence"), {"pattern": "backlog:stale", "minutes": 60, "next": "/"}
    )
    alerts = staff_client.get(reverse("console:alerts")).content.decode()
    assert _text_of(alerts, "nav-firing-count") == "1"
    assert _text_of(alerts, "summary-firing") == "1"
    firing = staff_client.get(reverse("console:alerts"), {"state": "firing"}).content.decode()
    assert _listed_alert_ids(firing) == {"planner:recent-failures"}
