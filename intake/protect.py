"""Reporter protection: encryption at rest, query codes and passwords, masked identity fields.

Masking identity inside texts and file names is `intake.masking`.

One 32-byte master key lives outside the database (a file under data_dir/keys, or the
INTAKE_MASTER_KEY setting). Purpose keys are derived from it with HKDF, so identity
ciphertexts, attachment files, code look-ups and staff sessions never share a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

QUERY_CODE_DIGITS = 16
IDENTITY_FORMAT = b"\x01"
FILE_MAGIC = b"XCA1"
FILE_CHUNK = 64 * 1024
_TAG = 16


class KeyFileError(RuntimeError):
    """The master key is missing or malformed."""


class DecryptionError(RuntimeError):
    """A ciphertext failed authentication: wrong key, or the data was altered."""


def password_hasher() -> PasswordHasher:
    """The one KDF setting for query passwords and staff passwords (Argon2id, OWASP minimum)."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class Identity:
    """What identifies a reporter. Every field is optional; all are encrypted together."""

    name: str = ""
    phone: str = ""
    id_number: str = ""
    address: str = ""
    email: str = ""
    display_name: str = ""

    def is_empty(self) -> bool:
        return not any(asdict(self).values())

    def masked(self) -> dict[str, str]:
        """Field → masked value, for staff pages that must not show the identity itself."""
        shown = {
            "name": mask_name(self.name),
            "phone": mask_digits(self.phone, keep_start=3, keep_end=2),
            "id_number": mask_digits(self.id_number, keep_start=2, keep_end=2),
            "address": mask_address(self.address),
            "email": mask_email(self.email),
            "display_name": mask_name(self.display_name),
        }
        return {k: v for k, v in shown.items() if v}


class Keyring:
    """Purpose keys derived from the master key."""

    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise KeyFileError("master key must be 32 bytes")
        self.key_id = hashlib.sha256(b"key-id" + master).hexdigest()[:8]
        self._identity = AESGCM(_derive(master, b"identity"))
        self._files = AESGCM(_derive(master, b"attachments"))
        self._lookup = _derive(master, b"code-lookup")
        self._senders = _derive(master, b"sender-lookup")
        self._records = AESGCM(_derive(master, b"records"))
        self._names = _derive(master, b"file-names")
        self.session_secret = _derive(master, b"flask-session")
        # The audit chain's HMAC key: without the master key its hashes cannot be recomputed.
        self.audit_key = _derive(master, b"audit-chain")

    @classmethod
    def from_data_dir(cls, data_dir: Path, configured: str = "") -> Keyring:
        """Use the configured key, else data_dir/keys/master.key, creating it (0600) if absent."""
        if configured:
            try:
                return cls(base64.b64decode(configured, validate=True))
            except ValueError as exc:
                raise KeyFileError("INTAKE_MASTER_KEY must be base64 of 32 bytes") from exc
        path = data_dir / "keys" / "master.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)) + b"\n")
        try:
            return cls(base64.b64decode(path.read_bytes().strip(), validate=True))
        except ValueError as exc:
            raise KeyFileError(f"{path} is not base64 of 32 bytes") from exc

    # -- identity ---------------------------------------------------------------------------

    def seal_identity(self, identity: Identity) -> bytes:
        plain = json.dumps(asdict(identity), ensure_ascii=False).encode("utf-8")
        return _seal(self._identity, plain, b"identity")

    def open_identity(self, sealed: bytes) -> Identity:
        return Identity(**json.loads(_open(self._identity, sealed, b"identity")))

    # -- other sealed records (raw mail envelopes, queued replies) ------------------------

    def seal(self, data: bytes, context: bytes) -> bytes:
        """Encrypt a record; `context` binds it to its use (a sealed reply is not an envelope)."""
        return _seal(self._records, data, context)

    def unseal(self, sealed: bytes, context: bytes) -> bytes:
        return _open(self._records, sealed, context)

    def sender_lookup(self, address: str) -> str:
        """A keyed digest of an e-mail address: matches follow-ups, limits replies."""
        normal = unicodedata.normalize("NFKC", address).strip().lower()
        return hmac.new(self._senders, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    # -- query codes ------------------------------------------------------------------------

    def code_lookup(self, code: str) -> str:
        """A keyed digest that finds a case by its code without storing the code."""
        return hmac.new(self._lookup, code.encode("ascii"), hashlib.sha256).hexdigest()

    # -- attachment files -------------------------------------------------------------------

    def file_name(self, sha256_hex: str) -> str:
        """Storage name of a file: keyed, so holding a copy does not confirm it is stored."""
        return hmac.new(self._names, sha256_hex.encode("ascii"), hashlib.sha256).hexdigest()

    def encrypt_stream(self, src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
        """Encrypt src into dst in chunks; return the plaintext's sha256 and size.

        Chunks are sealed with AES-GCM under nonce = prefix ‖ counter ‖ last-flag (the STREAM
        construction), so reordering, dropping or truncating chunks fails authentication.
        """
        prefix = secrets.token_bytes(7)
        dst.write(FILE_MAGIC + prefix)
        digest, size = hashlib.sha256(), 0
        for index, chunk, last in _chunks(src, FILE_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(self._files.encrypt(_nonce(prefix, index, last), chunk, FILE_MAGIC))
        return digest.hexdigest(), size

    def decrypt_stream(self, src: BinaryIO) -> Iterator[bytes]:
        """Yield the plaintext chunks of a file written by encrypt_stream."""
        head = src.read(len(FILE_MAGIC) + 7)
        if not head.startswith(FILE_MAGIC) or len(head) != len(FILE_MAGIC) + 7:
            raise DecryptionError("not an encrypted attachment")
        prefix = head[len(FILE_MAGIC):]
        for index, chunk, last in _chunks(src, FILE_CHUNK + _TAG):
            try:
                yield self._files.decrypt(_nonce(prefix, index, last), chunk, FILE_MAGIC)
            except InvalidTag as exc:
                raise DecryptionError("attachment failed authentication") from exc


def new_query_code() -> str:
    """A query code: 16 decimal digits from the operating system's CSPRNG (about 53 bits)."""
    return f"{secrets.randbelow(10**QUERY_CODE_DIGITS):0{QUERY_CODE_DIGITS}d}"


def normalise_code(text: str) -> str:
    """ASCII digits only, so '1234 5678-…' or full-width '１２３４…' typed from a note matches."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch in "0123456789")


def format_code(code: str) -> str:
    """Groups of four digits, easier to copy by hand and to read out on the phone."""
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def hash_secret(code: str, password: str) -> str:
    return password_hasher().hash(f"{code}\x00{password}")


def verify_secret(stored: str, code: str, password: str) -> bool:
    try:
        return password_hasher().verify(stored, f"{code}\x00{password}")
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_digits(value: str, *, keep_start: int, keep_end: int) -> str:
    value = value.strip()
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def mask_address(address: str) -> str:
    address = address.strip()
    if not address:
        return ""
    return address[:3] + "****"


def mask_email(email: str) -> str:
    local, _, domain = email.strip().partition("@")
    if not local:
        return ""
    return f"{local[0]}***@{domain}" if domain else local[0] + "***"


def _seal(aead: AESGCM, data: bytes, context: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return IDENTITY_FORMAT + nonce + aead.encrypt(nonce, data, context)


def _open(aead: AESGCM, sealed: bytes, context: bytes) -> bytes:
    if not sealed.startswith(IDENTITY_FORMAT):
        raise DecryptionError("unknown sealed format")
    try:
        return aead.decrypt(sealed[1:13], sealed[13:], context)
    except InvalidTag as exc:
        raise DecryptionError(f"{context.decode()} failed authentication") from exc


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"xcz/" + purpose).derive(
        master
    )


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I?", index, last)


def _chunks(src: BinaryIO, size: int) -> Iterator[tuple[int, bytes, bool]]:
    """(index, chunk, is_last) with one chunk of look-ahead; an empty input is one empty chunk."""
    current = src.read(size)
    index = 0
    while True:
        following = src.read(size)
        yield index, current, not following
        if not following:
            return
        current, index = following, index + 1
