"""Staff accounts: creation, password checks, roles and what each role may do."""

from __future__ import annotations

import secrets
from functools import cache

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update

from intake.audit import db_record
from intake.desk import Desk
from intake.protect import password_hasher
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError

ROLE_NAMES = {
    "duty_officer": "值班员",
    "triager": "研判员",
    "team_leader": "组长",
    "admin": "系统管理员",
}
STAFF_PASSWORD_MIN = 10

# What each role may do. Revealing a reporter's identity is for the team leader alone:
# an administrator runs the system but has no business knowing who reported.
PERMISSIONS = {
    "view_queue": {"duty_officer", "triager", "team_leader", "admin"},
    "decide": {"triager", "team_leader"},
    "reply": {"triager", "team_leader"},
    "reveal_identity": {"team_leader"},
    "manage_users": {"admin"},
    "view_audit": {"team_leader", "admin"},
    # The duty desk: log calls and visits, upload and review scans, handle appointments.
    "desk": {"duty_officer", "team_leader"},
    # Call-centre device tokens are credentials: the administrator issues them.
    "manage_devices": {"admin"},
}


class StaffError(IntakeError):
    """A staff account operation failed; `message` is Chinese, for staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def may(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]


def generate_password() -> str:
    """A one-time password: 16 characters, easy to type, no look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def create_user(
    desk: Desk,
    username: str,
    role: str,
    *,
    display_name: str = "",
    password: str | None = None,
    actor_label: str = "system",
) -> tuple[m.StaffUser, str]:
    """Create an account; without a password, generate a one-time one (to change at login)."""
    username = username.strip()
    if not username or len(username) > 50:
        raise StaffError("用户名须为 1 到 50 个字符。")
    if role not in ROLE_NAMES:
        raise StaffError(f"未知角色 {role}，可选：{', '.join(ROLE_NAMES)}。")
    one_time = password is None
    password = password if password is not None else generate_password()
    _check_password(password)
    with desk.sessions() as session:
        begin_write(session)
        if session.scalar(select(m.StaffUser).where(m.StaffUser.username == username)):
            raise StaffError(f"用户名 {username} 已存在。")
        user = m.StaffUser(
            username=username,
            display_name=display_name.strip() or username,
            role=role,
            password_hash=password_hasher().hash(password),
            must_change_password=one_time,
        )
        session.add(user)
        session.flush()
        db_record(session, "staff.create", actor_label=actor_label, username=username, role=role)
        session.commit()
        return user, password


def ensure_first_admin(desk: Desk) -> str | None:
    """Create `admin` with a one-time password when no account exists; return that password."""
    with desk.sessions() as session:
        if session.scalar(select(func.count()).select_from(m.StaffUser)):
            return None
    _, password = create_user(desk, "admin", "admin", display_name="系统管理员",
                              actor_label="make run")
    return password


def authenticate(desk: Desk, username: str, password: str) -> m.StaffUser | None:
    """The active account with this username and password, else None (same time either way)."""
    with desk.sessions() as session:
        user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == username.strip()))
    stored = user.password_hash if user is not None and user.active else _dummy_hash()
    try:
        password_hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    with desk.sessions() as session:
        begin_write(session)
        session.execute(update(m.StaffUser).where(m.StaffUser.id == user.id)
                        .values(last_login_at=m.utcnow()))
        db_record(session, "staff.login", actor_id=user.id, actor_label=user.username)
        session.commit()
    return user


def change_password(desk: Desk, user_id: int, old: str, new: str) -> None:
    """Change a password after checking the old one; ends the account's other sessions."""
    _check_password(new)
    if new == old:
        raise StaffError("新密码不能与原密码相同。")
    with desk.sessions() as session:
        begin_write(session)
        user = session.get(m.StaffUser, user_id)
        if user is None:
            raise StaffError("账号不存在。")
        try:
            password_hasher().verify(user.password_hash, old)
        except (VerificationError, InvalidHashError) as exc:
            raise StaffError("原密码不正确。") from exc
        user.password_hash = password_hasher().hash(new)
        user.must_change_password = False
        user.session_epoch += 1
        db_record(session, "staff.password_change", actor_id=user.id, actor_label=user.username)
        session.commit()


def _check_password(password: str) -> None:
    if len(password) < STAFF_PASSWORD_MIN:
        raise StaffError(f"密码至少 {STAFF_PASSWORD_MIN} 个字符。")


@cache
def _dummy_hash() -> str:
    return password_hasher().hash("timing-equaliser")
