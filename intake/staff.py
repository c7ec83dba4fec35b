"""Staff accounts: creation, password checks, roles and what each role may do."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from pypinyin import lazy_pinyin
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from intake.audit import db_record
from intake.auth import logins, sessions, totp
from intake.auth.passwords import PasswordPolicyError, check_password
from intake.desk import Desk
from intake.protect import password_hasher
from intake.round import Round
from intake.scope import TEAM_ROLES
from intake.store import models as m
from intake.store.db import begin_write
from intake.submission import IntakeError

ROLE_NAMES = {
    "duty_officer": "值班员",
    "triager": "研判员",
    "team_leader": "组长",
    "office": "巡察办",
    "auditor": "安全审计员",
    "admin": "系统管理员",
}

# What each role may do. Revealing a reporter's identity is for the team leader alone:
# an administrator runs the system but has no business knowing who reported.
PERMISSIONS = {
    # Items are read by their team alone (intake.scope keeps each to its teams' rounds); the
    # office sees counts, the administrator runs the system and the auditor reads the audit
    # log, none of them an item (separation of duties, 三员分立).
    "view_queue": {"duty_officer", "triager", "team_leader"},
    "decide": {"triager", "team_leader"},
    "reply": {"triager", "team_leader"},
    "reveal_identity": {"team_leader"},
    # After triage (intake.leads): accept, transfer, record replies, close; a lead's keeper
    # is changed, and the round's leads handed over, by the team leader.
    "work_leads": {"triager", "team_leader"},
    "assign_keeper": {"team_leader"},
    "hand_over": {"team_leader"},
    "manage_users": {"admin"},
    # A team leader makes and resets the team's duty officers and triagers on 账号 (the
    # administrator those that read no item): handlers/web/staff.py AccountPolicy.
    "manage_team_users": {"team_leader"},
    "manage_accounts": {"admin", "team_leader"},
    "manage_rounds": {"admin"},
    # The rounds page read-only: the office all rounds, a team leader their teams' rounds.
    "view_rounds": {"admin", "office", "team_leader"},
    "view_stats": {"triager", "team_leader", "office"},
    # The round's closing appendices (统计表, 问题线索移交清单, 转办情况一览表) list the leads'
    # masked summaries: the team's triagers and leader. The weekly report, which holds no
    # text, goes with view_stats (intake.reports).
    "round_reports": {"triager", "team_leader"},
    "view_audit": {"team_leader", "auditor"},
    # The duty desk: log calls and visits, upload and review scans, handle appointments.
    "desk": {"duty_officer", "team_leader"},
    # Call-centre device tokens are credentials: the administrator issues them.
    "manage_devices": {"admin"},
}


class StaffError(IntakeError):
    """A staff account operation failed; `message` is Chinese, for staff. `kind` says why,
    as intake.leads.LeadError does: `invalid` (the default), `not_found` or `conflict`."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


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
    teams: Sequence[str] = (),
    actor_id: int | None = None,
) -> tuple[m.StaffUser, str]:
    """Create an account; without a password, generate a one-time one (to change at login).

    A password given (chosen by the administrator) must meet the password policy. `teams`
    (names) are what a duty officer, triager or team leader sees; without them such an
    account joins the one team there is (with several, naming them is required). The other
    roles belong to no team.
    """
    username = username.strip()
    if not username or len(username) > 50:
        raise StaffError("用户名须为 1 到 50 个字符。")
    if role not in ROLE_NAMES:
        raise StaffError(f"未知角色 {role}，可选：{', '.join(ROLE_NAMES)}。")
    one_time = password is None
    if password is None:
        password = generate_password()
    else:
        _check_password(desk, password, username, display_name)
    with desk.sessions() as session:
        begin_write(session)
        if session.scalar(select(m.StaffUser).where(m.StaffUser.username == username)):
            raise StaffError(f"用户名 {username} 已存在。")
        team_rows = db_pick_teams(session, role, teams)
        user = m.StaffUser(
            username=username,
            display_name=display_name.strip() or username,
            role=role,
            password_hash=password_hasher().hash(password),
            must_change_password=one_time,
        )
        session.add(user)
        session.flush()
        session.add_all(m.TeamMember(user_id=user.id, team_id=t.id) for t in team_rows)
        db_record(session, "staff.create", actor_label=actor_label, actor_id=actor_id,
                  username=username, role=role, teams=[t.name for t in team_rows])
        session.commit()
        return user, password


def db_pick_teams(session: Session, role: str, names: Sequence[str]) -> list[m.Team]:
    """The teams an account of `role` is to belong to; StaffError naming what is wrong."""
    names = [n.strip() for n in names if n.strip()]
    if role not in TEAM_ROLES:
        if names:
            raise StaffError(f"{ROLE_NAMES[role]}不属于任何巡察组，不能指定所属组。")
        return []
    every = list(session.scalars(select(m.Team).order_by(m.Team.id)))
    if not names:
        if len(every) == 1:
            return every
        if not every:
            raise StaffError("还没有巡察组：请先载入轮次文件（intake rounds load）。")
        raise StaffError("有多个巡察组，请指定所属组（可选："
                         + "、".join(t.name for t in every) + "）。")
    by_name = {t.name: t for t in every}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise StaffError(f"没有巡察组「{'、'.join(unknown)}」（可选："
                         + "、".join(by_name) + "）。")
    return [by_name[n] for n in dict.fromkeys(names)]


def ensure_first_admin(desk: Desk) -> str | None:
    """Create `admin` with a one-time password when no account exists; return that password."""
    with desk.sessions() as session:
        if session.scalar(select(func.count()).select_from(m.StaffUser)):
            return None
    _, password = create_user(desk, "admin", "admin", display_name="系统管理员",
                              actor_label="make run")
    return password


def authenticate(desk: Desk, username: str, password: str, *,
                 now: datetime | None = None) -> m.StaffUser | None:
    """The active account with this username and password, else None (same time either way).

    Throttled and audited like the login page, but checks the password only and opens no
    session: the web login (`intake.auth.logins.attempt_password`) adds the second factor.
    """
    outcome = logins.attempt_password(desk, username, password, now=now or m.utcnow(),
                                      open_session=False)
    return outcome.user


def change_password(desk: Desk, user_id: int, old: str, new: str, *,
                    keep_session: int | None = None) -> None:
    """Change a password after checking the old one; ends the account's other sessions.

    `keep_session` is the id of the session that made the change, which stays open.
    """
    if new == old:
        raise StaffError("新密码不能与原密码相同。")
    with desk.sessions() as session:
        begin_write(session)
        user = session.get(m.StaffUser, user_id)
        if user is None:
            raise StaffError("账号不存在。")
        _check_password(desk, new, user.username, user.display_name)
        try:
            password_hasher().verify(user.password_hash, old)
        except (VerificationError, InvalidHashError) as exc:
            raise StaffError("原密码不正确。") from exc
        user.password_hash = password_hasher().hash(new)
        user.must_change_password = False
        user.session_epoch += 1
        ended = sessions.db_end_user_sessions(session, user.id, keep=keep_session)
        db_record(session, "password.change", actor_id=user.id, actor_label=user.username,
                  sessions_ended=ended)
        session.commit()


def set_active(desk: Desk, username: str, active: bool, *, actor_label: str,
               actor_id: int | None = None) -> None:
    """Disable an account (ending its sessions at once) or enable it again; audited.

    The last active administrator is not disabled: nobody could manage accounts then."""
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        if (not active and user.active and user.role == "admin"
                and _db_other_admins(session, user.id) == 0):
            raise StaffError(f"{user.username} 是唯一启用的系统管理员，不能停用："
                             "请先让另一个账号成为系统管理员。")
        user.active = active
        ended = 0 if active else sessions.db_end_user_sessions(session, user.id)
        db_record(session, "user.enable" if active else "user.disable", actor_label=actor_label,
                  actor_id=actor_id, username=user.username, sessions_ended=ended)
        session.commit()


def unlock(desk: Desk, username: str, *, actor_label: str, actor_id: int | None = None) -> bool:
    """End a login lock (and forget the failures) of an account; audited. False: none."""
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        cleared = logins.db_unlock(session, desk, user.username)
        db_record(session, "login.unlock", actor_label=actor_label, actor_id=actor_id,
                  username=user.username, had_failures=cleared)
        session.commit()
        return cleared


def reset_second_factor(desk: Desk, username: str, *, actor_label: str,
                        actor_id: int | None = None) -> bool:
    """Remove an account's second factor (a lost phone) and end its sessions; audited.

    Returns whether there was one. The member enrols again at the next login when their role
    requires it, or on the 两步验证 page.
    """
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        had = user.totp_secret is not None
        totp.db_clear(user)
        sessions.db_end_user_sessions(session, user.id)
        db_record(session, "totp.reset", actor_label=actor_label, actor_id=actor_id,
                  username=user.username, had_second_factor=had)
        session.commit()
        return had


@dataclass(frozen=True)
class UserView:
    """An account as the accounts page and `intake users list` show it (no secret in it)."""

    id: int
    username: str
    display_name: str
    role: str
    teams: tuple[str, ...]
    active: bool
    locked_until: datetime | None  # a login lock after repeated failures, while it lasts
    second_factor: str  # "on", "pending" (being set up) or "off"
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at is not None else None

        return {"username": self.username, "display_name": self.display_name,
                "role": self.role, "teams": list(self.teams), "active": self.active,
                "locked": self.locked_until is not None, "locked_until": iso(self.locked_until),
                "second_factor": self.second_factor,
                "must_change_password": self.must_change_password,
                "last_login_at": iso(self.last_login_at), "created_at": iso(self.created_at)}


def list_users(desk: Desk, *, now: datetime | None = None) -> list[UserView]:
    """Every account, oldest first, with its teams, lock and second factor."""
    now = now or m.utcnow()
    with desk.sessions() as session:
        teams: dict[int, list[str]] = {}
        for user_id, name in session.execute(
                select(m.TeamMember.user_id, m.Team.name)
                .join(m.Team, m.Team.id == m.TeamMember.team_id).order_by(m.Team.id)):
            teams.setdefault(user_id, []).append(name)
        return [
            UserView(
                id=u.id, username=u.username, display_name=u.display_name, role=u.role,
                teams=tuple(teams.get(u.id, ())), active=u.active,
                locked_until=logins.db_locked_until(session, desk, u.username, now),
                second_factor=("on" if u.totp_confirmed_at is not None
                               else "pending" if u.totp_secret is not None else "off"),
                must_change_password=u.must_change_password,
                last_login_at=u.last_login_at, created_at=u.created_at,
            )
            for u in session.scalars(select(m.StaffUser).order_by(m.StaffUser.id))
        ]


def team_names(desk: Desk, team_ids: Iterable[int] | None = None) -> list[str]:
    """The names of these teams (every team without ids), in the order they were made."""
    query = select(m.Team.name).order_by(m.Team.id)
    if team_ids is not None:
        query = query.where(m.Team.id.in_(list(team_ids)))
    with desk.sessions() as session:
        return list(session.scalars(query))


def set_role(desk: Desk, username: str, role: str, *, actor_label: str,
             actor_id: int | None = None, teams: Sequence[str] | None = None) -> bool:
    """Give an account another role (and, with `teams`, its teams in the same step); audited.

    A duty officer, triager or team leader keeps the teams it has unless `teams` names others
    (one of them at least: the one team there is when there is one); the other roles belong
    to no team. What the account may see changes, so its sessions end. Refused: the last
    active administrator losing that role, and an administrator changing their own role.
    Returns whether anything changed.
    """
    if role not in ROLE_NAMES:
        raise StaffError(f"未知角色 {role}，可选：{', '.join(ROLE_NAMES)}。")
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        old_role = user.role
        if role != old_role:
            if actor_id is not None and actor_id == user.id:
                raise StaffError("不能修改自己的角色：请另一位系统管理员操作。")
            if old_role == "admin" and user.active and _db_other_admins(session, user.id) == 0:
                raise StaffError(f"{user.username} 是唯一启用的系统管理员，不能改为其他角色："
                                 "请先让另一个账号成为系统管理员。")
        current = _db_team_names(session, user.id)
        if teams is None:
            teams = current if role in TEAM_ROLES else []
        changed = _db_set_teams(session, user, role, teams, current, actor_label=actor_label,
                                actor_id=actor_id)
        if role != old_role:
            user.role = role
            ended = sessions.db_end_user_sessions(session, user.id)
            db_record(session, "user.role", actor_label=actor_label, actor_id=actor_id,
                      username=user.username, old_role=old_role, new_role=role,
                      sessions_ended=ended)
            changed = True
        session.commit()
        return changed


def set_teams(desk: Desk, username: str, team_names: Sequence[str], *, actor_label: str,
              actor_id: int | None = None) -> bool:
    """Put an account in these teams (names) instead of its present ones; audited.

    Duty officers, triagers and team leaders need at least one team (the one team there is
    when none is named and there is one); the other roles none. The account's sessions end,
    as what it may see changed. Returns whether anything changed.
    """
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        changed = _db_set_teams(session, user, user.role, team_names,
                                _db_team_names(session, user.id), actor_label=actor_label,
                                actor_id=actor_id)
        session.commit()
        return changed


def reset_password(desk: Desk, username: str, *, actor_label: str,
                   actor_id: int | None = None) -> str:
    """Give an account a new one-time password (returned, to hand over once); audited.

    The member must change it at the next login, and every session of the account ends, so
    whoever knew the old password is out. A login lock stays (解锁 ends it).
    """
    password = generate_password()
    with desk.sessions() as session:
        begin_write(session)
        user = _by_name(session, username)
        if actor_id is not None and actor_id == user.id:
            raise StaffError("不能重置自己的密码：请在「修改密码」中修改。")
        user.password_hash = password_hasher().hash(password)
        user.must_change_password = True
        user.session_epoch += 1
        ended = sessions.db_end_user_sessions(session, user.id)
        db_record(session, "user.password_reset", actor_label=actor_label, actor_id=actor_id,
                  username=user.username, sessions_ended=ended)
        session.commit()
    return password


def _db_team_names(session: Session, user_id: int) -> list[str]:
    return list(session.scalars(
        select(m.Team.name).join(m.TeamMember, m.TeamMember.team_id == m.Team.id)
        .where(m.TeamMember.user_id == user_id).order_by(m.Team.id)))


def _db_set_teams(session: Session, user: m.StaffUser, role: str, names: Sequence[str],
                  current: Sequence[str], *, actor_label: str, actor_id: int | None) -> bool:
    """Make `user` (about to have `role`) a member of `names`; audit and end sessions when
    that changes anything."""
    picked = db_pick_teams(session, role, names)
    if {t.name for t in picked} == set(current):
        return False
    session.execute(delete(m.TeamMember).where(m.TeamMember.user_id == user.id))
    session.add_all(m.TeamMember(user_id=user.id, team_id=t.id) for t in picked)
    ended = sessions.db_end_user_sessions(session, user.id)
    db_record(session, "user.teams", actor_label=actor_label, actor_id=actor_id,
              username=user.username, old_teams=list(current),
              teams=[t.name for t in picked], sessions_ended=ended)
    return True


def _db_other_admins(session: Session, user_id: int) -> int:
    """How many active administrators there are besides `user_id`."""
    return session.scalar(select(func.count()).select_from(m.StaffUser).where(
        m.StaffUser.role == "admin", m.StaffUser.active.is_(True),
        m.StaffUser.id != user_id)) or 0


def totp_required(desk: Desk, role: str) -> bool:
    """Whether the settings make this role use a second factor."""
    required = {r.strip() for r in desk.settings.totp_required_roles.split(",")}
    return role in required


def round_words(round_: Round) -> tuple[str, ...]:
    """Words anyone near the round would try first in a password: its places, unit and team,
    in characters and in pinyin (青山 → qingshan)."""
    names = {round_.unit.name, round_.unit.short, round_.unit.county, round_.team,
             *round_.unit.places, *round_.unit.subordinates}
    names = {n.strip() for n in names if n and n.strip()}
    return tuple(sorted(names | {"".join(lazy_pinyin(n)) for n in names}))


def _by_name(session: Session, username: str) -> m.StaffUser:
    user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == username.strip()))
    if user is None:
        raise StaffError(f"没有用户名为 {username.strip()} 的账号。")
    return user


def _check_password(desk: Desk, password: str, username: str, display_name: str) -> None:
    try:
        check_password(password, username=username, display_name=display_name,
                       min_length=desk.settings.password_min_length,
                       min_score=desk.settings.password_min_score,
                       guessable=tuple(w for e in desk.rounds.all() for w in round_words(e.cfg)))
    except PasswordPolicyError as exc:
        raise StaffError(exc.message) from exc
