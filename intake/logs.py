"""The service log: which loggers speak, at what level, and what they may never say.

Our own loggers (`intake`, `handlers`) follow the `log_level` setting and write item numbers,
never identities, query codes or passwords. Third-party libraries are set deliberately: several
print what a reporter sent (aiosmtpd's `mail.log` the envelope sender at INFO and whole messages
at DEBUG, flask-limiter the limited key, which holds a query code, at INFO, werkzeug request
paths, urllib3 URLs), so each is capped whatever `log_level` says, and any library not named
here stays at WARNING through the root logger. As a last guard, the formatter masks e-mail
addresses and long digit runs (phones, ID and bank card numbers, query codes) in every line,
tracebacks included.
"""

from __future__ import annotations

import logging
import re
import sys

# Libraries whose INFO or DEBUG lines may carry what a reporter sent, or would drown ours.
THIRD_PARTY_LEVELS = {
    "mail.log": logging.WARNING,  # aiosmtpd: "sender: ..." at INFO, message data at DEBUG
    "aiosmtpd": logging.WARNING,
    "waitress": logging.WARNING,  # "Exception while serving <path>" comes at ERROR: masked
    "cheroot": logging.WARNING,  # the web server (handlers.httpserver): client errors at INFO
    "werkzeug": logging.WARNING,  # the development server's access log prints paths
    "flask_limiter": logging.WARNING,  # "ratelimit ... (code:<query code>) exceeded" at INFO
    "limits": logging.WARNING,
    "urllib3": logging.WARNING,
    "requests": logging.WARNING,
    "redis": logging.WARNING,
    "sqlalchemy": logging.WARNING,  # statement parameters at INFO/DEBUG
    "alembic": logging.WARNING,
    "asyncio": logging.WARNING,
    "charset_normalizer": logging.WARNING,  # DEBUG lines quote the text being detected
    "multipart": logging.WARNING,
    "python_multipart": logging.WARNING,
    "PIL": logging.WARNING,
    "RapidOCR": logging.WARNING,
    "rapidocr": logging.WARNING,
    "onnxruntime": logging.WARNING,
}
OWN_LOGGERS = ("intake", "handlers")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Identity shapes masked in every line: e-mail addresses; 7 or more digits (phone numbers,
# ID card and bank card numbers, query codes), also as written in groups.
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
DIGITS = re.compile(r"\d{4}(?: \d{4}){3}|1\d{2}[ -]\d{4}[ -]\d{4}|\d{7,}[\dXx]?")


class MaskingFormatter(logging.Formatter):
    """A formatter that masks identity shapes in the whole formatted line (and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


def mask(text: str) -> str:
    """`text` with e-mail addresses and long digit runs replaced by placeholders."""
    return DIGITS.sub("[号码]", EMAIL.sub("[邮箱]", text))


def configure_logging(level: str = "INFO") -> None:
    """Send every log line to stderr through the masking formatter, with the levels above."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"log_level {level!r}: use one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MaskingFormatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)  # any library not named here
    for logger in OWN_LOGGERS:
        logging.getLogger(logger).setLevel(name)
    for logger, cap in THIRD_PARTY_LEVELS.items():
        logging.getLogger(logger).setLevel(max(cap, logging.getLevelName(name)))
