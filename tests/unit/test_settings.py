from __future__ import annotations

from pathlib import Path

import pytest

from intake.settings import SettingsError, load_settings


def test_defaults_then_file_then_environment(tmp_path: Path) -> None:
    file = tmp_path / "settings.yaml"
    file.write_text("http_port: 9000\nmax_attachments: 3\n", encoding="utf-8")
    s = load_settings({"INTAKE_SETTINGS": str(file), "INTAKE_MAX_ATTACHMENTS": "5",
                       "INTAKE_DATA_DIR": str(tmp_path / "d")})
    assert (s.http_port, s.max_attachments, s.data_dir) == (9000, 5, tmp_path / "d")
    assert s.smtp_port == 8025
    assert s.effective_database_url.endswith("/d/intake.db")


def test_round_and_redis_conventions() -> None:
    s = load_settings({"INTAKE_ROUND": "/x/round.yaml", "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert s.round_file == Path("/x/round.yaml")
    assert s.ratelimit_storage_uri == "redis://127.0.0.1:6379/0"


def test_bad_values_are_named() -> None:
    with pytest.raises(SettingsError, match="http_port"):
        load_settings({"INTAKE_HTTP_PORT": "eighty"})


def test_the_example_settings_file_loads_and_names_every_setting() -> None:
    import dataclasses

    import yaml

    from intake.settings import REPO_ROOT, Settings, load_settings

    path = REPO_ROOT / "config" / "settings.example.yaml"
    loaded = load_settings(env={"INTAKE_SETTINGS": str(path)})
    assert loaded.smtp_port == 8025
    named = set(yaml.safe_load(path.read_text(encoding="utf-8")))
    secrets = {"master_key", "mail_relay_password"}  # never written in a file
    assert named | secrets == {f.name for f in dataclasses.fields(Settings)}
