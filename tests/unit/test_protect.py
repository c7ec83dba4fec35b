from __future__ import annotations

import io
import secrets

import pytest

from intake.protect import (
    DecryptionError,
    Identity,
    Keyring,
    format_code,
    hash_secret,
    new_query_code,
    normalise_code,
    verify_secret,
)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(secrets.token_bytes(32))


def test_identity_round_trip_and_no_plaintext(keyring: Keyring) -> None:
    who = Identity(name="欧阳明远", phone="13912345678", address="青山镇东岭村")
    sealed = keyring.seal_identity(who)
    assert keyring.open_identity(sealed) == who
    for secret in ("欧阳明远", "13912345678", "东岭村"):
        assert secret.encode() not in sealed
    assert keyring.seal_identity(who) != sealed  # fresh nonce each time


def test_identity_tampering_and_wrong_key_fail(keyring: Keyring) -> None:
    sealed = bytearray(keyring.seal_identity(Identity(name="张三")))
    sealed[-1] ^= 1
    with pytest.raises(DecryptionError):
        keyring.open_identity(bytes(sealed))
    with pytest.raises(DecryptionError):
        Keyring(secrets.token_bytes(32)).open_identity(keyring.seal_identity(Identity(name="张三")))


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 300_000])
def test_file_stream_round_trip(keyring: Keyring, size: int) -> None:
    plain = secrets.token_bytes(size)
    out = io.BytesIO()
    digest, n = keyring.encrypt_stream(io.BytesIO(plain), out)
    assert n == size
    assert b"".join(keyring.decrypt_stream(io.BytesIO(out.getvalue()))) == plain
    import hashlib

    assert digest == hashlib.sha256(plain).hexdigest()


def test_file_stream_detects_truncation_and_reordering(keyring: Keyring) -> None:
    out = io.BytesIO()
    keyring.encrypt_stream(io.BytesIO(secrets.token_bytes(200_000)), out)
    data = out.getvalue()
    chunk = 64 * 1024 + 16
    header = 11
    truncated = data[: header + 2 * chunk]  # drop the last chunk: the new last one is unflagged
    with pytest.raises(DecryptionError):
        b"".join(keyring.decrypt_stream(io.BytesIO(truncated)))
    swapped = data[:header] + data[header + chunk: header + 2 * chunk] + \
        data[header: header + chunk] + data[header + 2 * chunk:]
    with pytest.raises(DecryptionError):
        b"".join(keyring.decrypt_stream(io.BytesIO(swapped)))


def test_query_codes() -> None:
    codes = {new_query_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == 16 and c.isdigit() for c in codes)
    code = "0123456789012345"
    assert normalise_code(format_code(code)) == code
    assert normalise_code(" 0123-4567 8901 2345\n") == code


def test_secret_hash_checks_code_and_password() -> None:
    stored = hash_secret("1111222233334444", "pass-word")
    assert verify_secret(stored, "1111222233334444", "pass-word")
    assert not verify_secret(stored, "1111222233334444", "pass-wore")
    assert not verify_secret(stored, "1111222233334445", "pass-word")
    assert "pass-word" not in stored and "1111222233334444" not in stored


def test_masking() -> None:
    masked = Identity(name="欧阳明远", phone="13912345678", id_number="110101199003071234",
                      address="青山镇东岭村三组", email="zhang@example.cn").masked()
    assert masked == {"name": "欧***", "phone": "139******78", "id_number": "11**************34",
                      "address": "青山镇****", "email": "z***@example.cn"}
    assert Identity().masked() == {}


def test_key_file_is_created_private_and_reused(tmp_path) -> None:
    first = Keyring.from_data_dir(tmp_path)
    key = tmp_path / "keys" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert Keyring.from_data_dir(tmp_path).key_id == first.key_id
