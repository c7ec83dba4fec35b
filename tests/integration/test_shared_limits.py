"""Rate limits shared between service processes through Redis (skipped without REDIS_URL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from handlers.web import create_app
from intake.desk import Desk, open_desk
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (CI sets it)")

REPORT = {"text": "西坡村村委会主任杨秀英把集体鱼塘低价承包给自己弟弟。", "password": "my-secret-1"}


def test_two_service_processes_share_one_budget(desk: Desk, tmp_path: Path) -> None:
    settings = replace(desk.settings, report_rate_limit="3 per minute")
    other_settings = replace(settings, data_dir=tmp_path / "second")
    other_desk = open_desk(other_settings)
    try:
        first = create_app(settings, desk=desk).test_client()
        second = create_app(other_settings, desk=other_desk).test_client()
        codes = [first.post("/api/v1/reports", json=REPORT).status_code for _ in range(2)]
        codes += [second.post("/api/v1/reports", json=REPORT).status_code for _ in range(2)]
        assert codes == [201, 201, 201, 429]
    finally:
        other_desk.close()
