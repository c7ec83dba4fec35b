"""Service settings: defaults, then a YAML file named by INTAKE_SETTINGS, then INTAKE_* variables.

One frozen object; nothing reads configuration at import time. Tests build settings explicitly
with `Settings(...)` or `load_settings(env={...})`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ROUND = REPO_ROOT / "config" / "round.example.yaml"
RULES_DIR = REPO_ROOT / "routing_rules"
MiB = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value of the wrong kind."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("instance")
    database_url: str = ""  # empty: SQLite in data_dir
    round_file: Path = EXAMPLE_ROUND  # several: separated by ":"
    # Days after a round is archived when its identities, originals and texts are destroyed
    # (only counts remain); 0: never.
    round_retention_days: int = 1095
    rules_dir: Path = RULES_DIR
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    smtp_port: int = 8025
    http_threads: int = 8
    # Public reporting limits.
    max_attachments: int = 10
    max_attachment_bytes: int = 20 * MiB
    max_text_chars: int = 5000
    # Rate limits (flask-limiter syntax); storage is memory:// unless a Redis URL is given.
    ratelimit_storage_uri: str = "memory://"
    status_failure_limit: str = "10 per 10 minutes;30 per day"  # failed look-ups per address
    code_attempt_limit: str = "20 per day"  # every look-up of one code, right or wrong
    message_rate_limit: str = "20 per hour"  # follow-up messages per case
    # Submissions (reports, appointment requests) are never refused per address, since a
    # village may share one address: past `pow_threshold` of them from one address within
    # `pow_window_seconds`, each must carry a proof of work (intake/pow.py) of `pow_min_bits`,
    # two bits more each time the volume doubles, at most `pow_max_bits`.
    pow_threshold: int = 20
    pow_window_seconds: int = 3600
    pow_min_bits: int = 12
    pow_max_bits: int = 15
    pow_challenge_seconds: int = 600  # how long a challenge may take to be solved and sent
    # Trusted API clients (`intake clients add`): their limit unless they have their own.
    api_client_rate_limit: str = "600 per hour;5000 per day"
    # Our own loggers (intake, handlers); third-party ones are set apart (intake/logs.py).
    log_level: str = "INFO"
    # Staff sessions.
    staff_session_hours: float = 8.0
    staff_idle_minutes: float = 30.0
    # Served over TLS (directly or behind a proxy): Secure cookies, HSTS, http redirected.
    https_only: bool = False
    # Staff logins, per account whatever the address: growing delays, then a timed lock.
    login_delay_after: int = 5  # failures before each next attempt must wait (2 s, doubling)
    login_lock_after: int = 10  # failures that lock the account
    login_lock_minutes: float = 15.0
    password_min_length: int = 10
    password_min_score: int = 3  # zxcvbn score (0-4) a chosen staff password must reach
    totp_required_roles: str = ""  # roles that must use a second factor, e.g. team_leader,admin
    # Identity key: base64 of 32 bytes; empty means the key file in data_dir/keys.
    master_key: str = field(default="", repr=False)
    trust_proxy: bool = False
    # Where the public pages are reached, for links in replies; empty: http://host:port.
    public_base_url: str = ""
    # The Chinese font embedded in announcements and posters (.ttf/.otf/.ttc); empty: the
    # system's Noto CJK, Source Han, WenQuanYi or Droid Sans Fallback (intake.publication).
    pdf_font: str = ""
    # The county's receiving bodies for transfer letters (config/departments.example.yaml);
    # empty: config/departments.yaml if it exists, else the generic names of
    # routing_rules/departments.yaml (intake.documents.receivers_file).
    departments_file: str = ""
    # An edited copy of intake/templates/transfer_letter.docx (docxtpl); empty: that one.
    transfer_letter_template: str = ""
    # A folder of edited copies of the report templates (weekly_report.docx,
    # round_statistics.docx, round_leads.docx, round_transfers.docx; intake.reportdocs); a
    # template not found there, or empty: the built-in one in intake/templates.
    report_templates_dir: str = ""
    # E-mail channel (SMTP server).
    smtp_host: str = "127.0.0.1"
    smtp_hostname: str = ""  # name in the greeting; empty: the mailbox's domain
    smtp_max_message_bytes: int = 25 * MiB
    smtp_extra_mailboxes: str = ""  # more accepted recipient addresses, comma-separated
    smtp_allowed_peers: str = ""  # accept only these relay addresses/networks; empty: any
    smtp_tls_cert: str = ""  # PEM certificate and key: offer STARTTLS
    smtp_tls_key: str = ""
    smtp_require_tls: bool = False  # refuse mail until STARTTLS (needs the two above)
    smtp_workers: int = 4  # threads parsing and storing mail, so no connection stalls others
    spam_threshold: float = 0.6
    # Automatic replies (RFC 3834), sent through a relay after the commit.
    autoreply: bool = True
    autoreply_template: str = ""  # a file with $placeholders; empty: the built-in text
    autoreply_rate_limit: str = "3 per hour;10 per day"  # per recipient address
    autoreply_total_limit: str = "300 per hour;2000 per day"  # all replies together
    mail_from: str = ""  # empty: the round's mailbox
    mail_relay_host: str = ""  # empty: replies wait in the outbox
    mail_relay_port: int = 25
    mail_relay_starttls: bool = False
    mail_relay_username: str = ""
    mail_relay_password: str = field(default="", repr=False)
    # The daily digest mail (intake.digest): team name → addresses; sent through the relay
    # once a day from `digest_hour` (Beijing time), with the previous day's counts and numbers.
    digest_recipients: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    digest_hour: int = 8
    # Duty desk: scanned letters and suggestion-box notes.
    # One upload (a box opening, the day's post), streamed; only a signed-in officer's request
    # may be this large (handlers.web.bodylimit), every other body stops at max_request_bytes.
    scan_max_batch_bytes: int = 1024 * MiB
    scan_max_file_bytes: int = 300 * MiB  # one image or PDF within it
    # Pages, counted from a PDF's real page tree (never its declared /Count) or a TIFF's
    # frames, before any page row is written; a file over a limit is kept, with its error.
    scan_max_file_pages: int = 500
    scan_max_batch_pages: int = 5000
    ocr_workers: int = 1  # background OCR threads in `intake serve`; 0: none
    ocr_max_attempts: int = 3  # automatic tries per page before it waits for a person

    @property
    def max_request_bytes(self) -> int:
        """Largest request body accepted: all attachments plus room for the form fields."""
        return self.max_attachments * self.max_attachment_bytes + 1 * MiB

    @property
    def effective_public_base_url(self) -> str:
        return (self.public_base_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def round_files(self) -> tuple[Path, ...]:
        """`round_file` may name several files separated by `:` (INTAKE_ROUND=a.yaml:b.yaml)."""
        return tuple(Path(p) for p in str(self.round_file).split(os.pathsep) if p)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'intake.db').resolve()}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, the INTAKE_SETTINGS file, INTAKE_* variables, overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if path := env.get("INTAKE_SETTINGS"):
        try:
            doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise SettingsError(f"settings file {path} must be a mapping")
        values.update(doc)
    for name in _FIELDS:
        if (value := env.get(f"INTAKE_{name.upper()}")) is not None:
            values[name] = value
    # Conventional names used by the test setup and by operators.
    if "REDIS_URL" in env and "ratelimit_storage_uri" not in values:
        values["ratelimit_storage_uri"] = env["REDIS_URL"]
    if env.get("INTAKE_ROUND"):
        values["round_file"] = env["INTAKE_ROUND"]
    values.update(overrides)
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    return Settings(**{k: _coerce(k, v) for k, v in values.items()})


def _coerce(name: str, value: Any) -> Any:
    if name == "digest_recipients":
        return _recipients(value)
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, Path):
            return Path(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: {value!r} is not a {type(default).__name__}") from exc
    return str(value)


def _recipients(value: Any) -> dict[str, tuple[str, ...]]:
    """`digest_recipients`: a mapping (the YAML file), or its YAML/JSON text (a variable)."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"setting digest_recipients: {exc}") from exc
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SettingsError("setting digest_recipients: a mapping of team name to addresses")
    found: dict[str, tuple[str, ...]] = {}
    for team, addresses in value.items():
        if isinstance(addresses, str):
            addresses = [addresses]
        if not isinstance(addresses, list) or not all(
                isinstance(a, str) and "@" in a for a in addresses):
            raise SettingsError(f"setting digest_recipients: {team}: a list of e-mail addresses")
        found[str(team)] = tuple(a.strip() for a in addresses)
    return found
