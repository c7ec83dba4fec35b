"""`intake rounds …` and `intake devices …`: rounds and call-centre devices from the command
line, with the operator recorded as the actor."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
from pathlib import Path

from sqlalchemy import select

from intake.desk import Desk, open_desk
from intake.round import RoundFileError
from intake.rounds import RoundError, load_files, round_listing, set_state, state_name
from intake.settings import Settings
from intake.store import models as m
from intake.submission import InvalidSubmissionError

STATE_COMMANDS = {"close": "closed", "reopen": "open", "hand-over": "handed_over",
                  "archive": "archived"}


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def run_rounds(settings: Settings, command: str, files: list[str], slug: str,
               reason: str, *, out: str = "", bundle: str = "", with_identity: bool = False,
               as_user: str = "") -> int:
    desk = open_desk(settings, load_round_files=False)
    try:
        if command == "hand-over" and (bundle or with_identity or as_user):
            if not bundle:
                print("intake rounds hand-over: --with-identity 和 --as 只与 --bundle 一起使用。",
                      file=sys.stderr)
                return 2
            done = _bundle(desk, slug, Path(bundle), reason, with_identity, as_user)
            if done != 0:
                return done
            entry = desk.rounds.by_slug(slug)
            if entry is not None and entry.state == "handed_over":
                print(f"轮次 {slug} 已是「{state_name(entry.state)}」，未改动。")
                return 0
        if command == "load":
            return _load(desk, files)
        if command == "list":
            with desk.sessions() as session:
                for row in round_listing(session):
                    print(json.dumps(row, ensure_ascii=False))
            return 0
        if command in STATE_COMMANDS:
            try:
                row = set_state(desk.sessions, slug, STATE_COMMANDS[command],
                                actor_label=_actor(), reason=reason)
            except RoundError as exc:
                print(f"intake rounds {command}: {exc.message}", file=sys.stderr)
                return 2
            print(f"轮次 {row.slug} 现为「{state_name(row.state)}」。")
            return 0
        if command == "purge":
            from intake.maskstore import compact
            from intake.retention import TOUCHED, purge_due

            done = purge_due(desk, actor_label=_actor())
            print(f"已按保存期限销毁 {len(done)} 个轮次的材料：{'、'.join(done) or '无'}。")
            if done:  # the old texts must not survive in free pages (VACUUM / VACUUM FULL)
                try:
                    compact(desk, TOUCHED)
                except Exception as exc:  # a running service holding the database
                    print(f"intake rounds purge: 材料已销毁，但未能压缩数据库"
                          f"（{type(exc).__name__}）；SQLite 已将释放的空间写零，PostgreSQL "
                          "请在空闲时对相关表执行 VACUUM FULL。", file=sys.stderr)
                    return 1
            return 0
        if command == "publish":
            return _publish(desk, slug, Path(out))
        raise AssertionError(command)
    finally:
        desk.close()


def _load(desk: Desk, files: list[str]) -> int:
    try:
        results = load_files(desk.sessions, [Path(f) for f in files], actor_label=_actor())
    except RoundFileError as exc:
        print(f"intake rounds load: {exc}", file=sys.stderr)
        return 2
    except RoundError as exc:
        print(f"intake rounds load: {exc.message}", file=sys.stderr)
        return 2
    words = {"created": "已新建", "updated": "已更新", "unchanged": "无变化"}
    for r in results:
        print(f"{words[r.outcome]}：{r.slug}")
    return 0


def _bundle(desk: Desk, slug: str, out: Path, reason: str, with_identity: bool,
            as_user: str) -> int:
    """`hand-over SLUG --bundle OUT.zip`: the handover bundle, made as the operator or, with
    `--as`, as a team leader inside their scope (identities need one, and a reason). The
    password is printed once."""
    from intake import scope
    from intake.handover import BundleTooLargeError
    from intake.handoverdata import HandoverError, db_handover_bundle
    from intake.triage import Actor

    name = "intake rounds hand-over"
    entry = desk.rounds.by_slug(slug)
    if entry is None:
        print(f"{name}: 没有轮次 {slug}。", file=sys.stderr)
        return 2
    if entry.state not in ("closed", "handed_over"):
        print(f"{name}: 轮次 {slug} 现为「{state_name(entry.state)}」；移交包只为已截止受理"
              "或已移交的轮次生成。", file=sys.stderr)
        return 2
    if with_identity and not as_user:
        print(f"{name}: 包含举报人身份须由组长决定：请用 --as 组长账号 和 --reason 理由。",
              file=sys.stderr)
        return 2
    actor: Actor | None = None
    guard: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if as_user:
        with desk.sessions() as session:
            user = session.scalar(select(m.StaffUser).where(m.StaffUser.username == as_user))
            if user is None or not user.active:
                print(f"{name}: 没有可用账号 {as_user}。", file=sys.stderr)
                return 2
            actor = Actor(user.id, user.username, user.role)
            guard = scope.scoped(scope.db_viewer(session, user.id, user.role))
    try:
        with guard:
            password = db_handover_bundle(desk, actor, entry.id, with_identity=with_identity,
                                          reason=reason, out=out, actor_label=_actor())
    except (HandoverError, BundleTooLargeError) as exc:
        print(f"{name}: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{name}: 无法写入 {out}：{exc.strerror}", file=sys.stderr)
        return 2
    print(f"移交包已写入：{out}（{'含' if with_identity else '不含'}举报人身份）")
    print(f"解压密码（只显示这一次，请另行送达）：{password}")
    return 0


def _publish(desk: Desk, slug: str, out: Path) -> int:
    from intake import publication

    entry = desk.rounds.by_slug(slug)
    if entry is None:
        print(f"intake rounds publish: 没有轮次 {slug}。", file=sys.stderr)
        return 2
    base_url = desk.settings.effective_public_base_url
    if publication.is_local(base_url):
        print(f"注意：二维码指向本机地址 {base_url}，群众的手机打不开；"
              "请先在设置 public_base_url 中填写公开网址。", file=sys.stderr)
    try:
        font = publication.find_font(desk.settings.pdf_font)
        paths = publication.write_files(entry.cfg, entry.slug, base_url, font, out)
    except publication.FontMissingError as exc:
        print(f"intake rounds publish: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"intake rounds publish: 无法写入 {out}：{exc.strerror}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def run_devices(settings: Settings, command: str, name: str, team: str) -> int:
    from intake import duty

    desk = open_desk(settings, load_round_files=False)
    try:
        if command == "add":
            try:
                token = duty.create_device(desk, name, actor_id=None, actor_label=_actor(),
                                           team=team or None)
            except InvalidSubmissionError as exc:
                print(f"intake devices add: {exc.message}", file=sys.stderr)
                return 2
            print(token)
            print(f"已为「{name}」创建接入令牌（只显示这一次，请妥善保存）。", file=sys.stderr)
            return 0
        if command == "list":
            with desk.sessions() as session:
                rows = session.execute(select(m.Device, m.Team.name).outerjoin(
                    m.Team, m.Team.id == m.Device.team_id).order_by(m.Device.id)).all()
                for device, team_name in rows:
                    print(json.dumps({
                        "name": device.name, "team": team_name,
                        "created_at": device.created_at.isoformat(),
                        "last_used_at": device.last_used_at.isoformat()
                        if device.last_used_at else None,
                        "revoked": device.revoked_at is not None}, ensure_ascii=False))
            return 0
        if command == "revoke":
            with desk.sessions() as session:
                ids = list(session.scalars(select(m.Device.id).where(
                    m.Device.name == name, m.Device.revoked_at.is_(None))))
            if not ids:
                print(f"intake devices revoke: 没有名为「{name}」的有效设备。", file=sys.stderr)
                return 2
            for device_id in ids:
                duty.revoke_device(desk, device_id, actor_id=None, actor_label=_actor())
            print(f"已吊销「{name}」的接入令牌。")
            return 0
        raise AssertionError(command)
    finally:
        desk.close()
