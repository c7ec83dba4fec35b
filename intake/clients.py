"""Trusted API clients: a "码上巡察" backend that submits reports for many people from one address.

Such a client holds its own token (256 random bits, shown once; only a digest is stored) and
gets its own rate limit instead of the proof-of-work asked of busy addresses. Clients are
created, listed and revoked with `intake clients ...`; every change is audited.
"""

from __future__ import annotations

import getpass
import secrets
import sys

from limits import parse_many
from sqlalchemy import select

from intake.audit import db_record
from intake.desk import Desk
from intake.settings import Settings
from intake.store import models as m
from intake.store.db import begin_write
from intake.store.models import utcnow
from intake.submission import IntakeError
from intake.tokens import find_holder, token_lookup

TOKEN_PREFIX = "xczapi_"  # noqa: S105 - a prefix that makes leaked tokens easy to spot


class ClientError(IntakeError):
    """A client command that cannot be done (name taken, unknown, bad limit)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def create_client(desk: Desk, name: str, *, rate_limit: str = "", actor_label: str) -> str:
    """Register a trusted client; return its token (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ClientError("请填写客户端名称（100 字以内）。")
    check_limit(rate_limit)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with desk.sessions() as session:
        begin_write(session)
        if session.scalar(select(m.ApiClient.id).where(
                m.ApiClient.name == name, m.ApiClient.revoked_at.is_(None))) is not None:
            raise ClientError(f"已有名为“{name}”的有效客户端；如需更换令牌，请先停用。")
        client = m.ApiClient(name=name, token_lookup=token_lookup(token), rate_limit=rate_limit)
        session.add(client)
        session.flush()
        db_record(session, "api_client_create", actor_label=actor_label, client_id=client.id,
                  name=name, rate_limit=rate_limit)
        session.commit()
    return token


def revoke_client(desk: Desk, name: str, *, actor_label: str) -> None:
    """Revoke the active client called `name`; its token is refused from now on."""
    with desk.sessions() as session:
        begin_write(session)
        client = session.scalar(select(m.ApiClient).where(
            m.ApiClient.name == name.strip(), m.ApiClient.revoked_at.is_(None)))
        if client is None:
            raise ClientError(f"没有名为“{name}”的有效客户端。")
        client.revoked_at = utcnow()
        db_record(session, "api_client_revoke", actor_label=actor_label, client_id=client.id,
                  name=client.name)
        session.commit()


def authenticate_client(desk: Desk, token: str) -> m.ApiClient | None:
    """The active client holding `token`, or None; notes when it was last used."""
    return find_holder(desk, m.ApiClient, token, TOKEN_PREFIX)


def list_clients(desk: Desk) -> list[m.ApiClient]:
    """Every client, revoked ones too, oldest first."""
    with desk.sessions() as session:
        clients = list(session.scalars(select(m.ApiClient).order_by(m.ApiClient.id)))
        session.expunge_all()
        return clients


def check_limit(rate_limit: str) -> None:
    """Refuse a limit flask-limiter cannot read ("" means the default for trusted clients)."""
    if rate_limit:
        try:
            parse_many(rate_limit)
        except ValueError as exc:
            raise ClientError(f"限额格式不对（如 600 per hour;5000 per day）：{exc}") from exc


def run_command(settings: Settings, command: str, name: str = "", rate_limit: str = "") -> int:
    """`intake clients add|list|revoke`: print for an operator; exit 2 on a refused command."""
    from intake.desk import open_desk

    desk = open_desk(settings)
    actor = f"cli:{getpass.getuser()}"
    try:
        if command == "add":
            token = create_client(desk, name, rate_limit=rate_limit, actor_label=actor)
            print(f"已创建受信任客户端“{name.strip()}”，限额："
                  f"{rate_limit or '默认（' + settings.api_client_rate_limit + '）'}。")
            print(f"令牌（只显示这一次，请妥善转交）：{token}")
            print("调用 POST /api/v1/reports 时放在请求头 Authorization: Bearer <令牌>。")
        elif command == "revoke":
            revoke_client(desk, name, actor_label=actor)
            print(f"已停用客户端“{name.strip()}”，其令牌即时失效。")
        else:
            for client in list_clients(desk):
                state = "已停用" if client.revoked_at else "有效"
                used = client.last_used_at.isoformat(timespec="seconds") \
                    if client.last_used_at else "从未使用"
                print(f"{client.name}\t{state}\t限额 {client.rate_limit or '默认'}\t"
                      f"最近使用 {used}")
    except ClientError as exc:
        print(f"intake clients {command}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        desk.close()
    return 0
