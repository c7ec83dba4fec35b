"""Rate limits shared between service processes through Redis (skipped without REDIS_URL)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from handlers.web import create_app
from intake import pow
from intake.clients import create_client
from intake.desk import Desk, open_desk
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (CI sets it)")

REPORT = {"text": "西坡村村委会主任杨秀英把集体鱼塘低价承包给自己弟弟。", "password": "my-secret-1"}


def test_two_service_processes_share_one_budget(desk: Desk, tmp_path: Path) -> None:
    settings = replace(desk.settings, pow_threshold=3, pow_min_bits=4, pow_max_bits=8)
    other_settings = replace(settings, data_dir=tmp_path / "second")
    other_desk = open_desk(other_settings)
    try:
        first = create_app(settings, desk=desk).test_client()
        # The same master key in every process: a challenge one issues, another accepts.
        second = create_app(settings, desk=desk).test_client()
        codes = [first.post("/api/v1/reports", json=REPORT).status_code for _ in range(2)]
        codes += [second.post("/api/v1/reports", json=REPORT).status_code for _ in range(2)]
        assert codes == [201, 201, 201, 429]  # the volume is counted across both
        body = first.get("/api/v1/challenge").get_json()
        solved = {"X-Pow-Challenge": body["challenge"],
                  "X-Pow-Nonce": pow.solve(body["challenge"], body["bits"])}
        assert second.post("/api/v1/reports", json=REPORT, headers=solved).status_code == 201
        reused = first.post("/api/v1/reports", json=REPORT, headers=solved)
        assert reused.get_json()["error"]["reason"] == "reused"  # used once, in any process
        # a trusted client's own limit is one budget too
        bearer = {"Authorization": "Bearer " + create_client(desk, "app", rate_limit="2 per minute",
                                                            actor_label="test")}
        statuses = [app.post("/api/v1/reports", json=REPORT, headers=bearer).status_code
                    for app in (first, second, first)]
        assert statuses == [201, 201, 429]
        # a process with another key (another deployment) does not accept our challenges
        third = create_app(other_settings, desk=other_desk).test_client()
        body = first.get("/api/v1/challenge").get_json()
        forged = third.post("/api/v1/reports", json=REPORT, headers={
            "X-Pow-Challenge": body["challenge"],
            "X-Pow-Nonce": pow.solve(body["challenge"], body["bits"])})
        assert forged.get_json()["error"]["reason"] == "forged"
    finally:
        other_desk.close()
