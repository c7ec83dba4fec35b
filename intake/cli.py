"""The `intake` command: serve, smtp, outbox, digest, classify, train, models, export, audit, rules,
users."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from intake.round import RoundFileError
from intake.settings import Settings, SettingsError, load_settings
from intake.store.models import STAFF_ROLES
from intake.usercmd import COMMANDS as USER_COMMANDS
from intake.usercmd import add_commands as add_user_commands

if TYPE_CHECKING:
    from intake.desk import Desk
    from intake.rounds import RoundEntry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="intake", description="巡察组信访举报受理服务")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web service and the SMTP server in the foreground")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--smtp-port", type=int)

    p = sub.add_parser("smtp", help="run only the SMTP server (e-mail channel) in the foreground")
    p.add_argument("--host")
    p.add_argument("--port", type=int)

    p = sub.add_parser("outbox", help="replies waiting to be sent")
    outbox_sub = p.add_subparsers(dest="outbox_command", required=True)
    outbox_sub.add_parser("retry", help="queue failed replies again (after fixing the relay)")

    p = sub.add_parser("digest", help="a team's daily digest (counts and numbers only)")
    p.add_argument("--team", default="", help="the team (default: every team)")
    p.add_argument("--day", default="", help="YYYY-MM-DD, Beijing time (default: today)")
    p.add_argument("--send", action="store_true",
                   help="also queue it to the team's digest_recipients (once a day)")

    p = sub.add_parser("classify", help="classify JSON Lines items (contract: classify.md)")
    p.add_argument("--round", required=True)
    p.add_argument("--in", dest="in_path")
    p.add_argument("--out", dest="out_path")
    p.add_argument("--model", default="active", metavar="VERSION",
                   help="statistical layer: active (the trained one, else the shipped default), "
                        "none (keywords only), or a saved version")

    p = sub.add_parser("evaluate", help="score the classifier on labelled JSON Lines files")
    p.add_argument("--round", required=True)
    p.add_argument("--json", action="store_true", help="one JSON line per file")
    p.add_argument("--model", default="active", metavar="VERSION",
                   help="statistical layer: active (the trained one, else the shipped default), "
                        "none (keywords only), or a saved version")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("train", help="train the statistical discipline model")
    p.add_argument("--data", action="append", default=[], metavar="FILE",
                   help="labelled JSON Lines file (text, disciplines); may be repeated")
    p.add_argument("--no-db", action="store_true", help="leave out staff decisions")
    p.add_argument("--no-activate", action="store_true", help="save without making it active")
    p.add_argument("--cv", type=int, metavar="K", help="print K-fold cross-validation first")
    p.add_argument("--semantic", nargs="?", type=int, const=0, metavar="WORDS",
                   help="also train the semantic layer: on the shipped layer's word vectors, "
                        "or with WORDS on that many words distilled from e5 anew")

    p = sub.add_parser("models", help="trained discipline models")
    models_sub = p.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="saved models, the active one marked *")
    use = models_sub.add_parser("use", help="make a saved model the active one")
    use.add_argument("version")

    p = sub.add_parser("export", help="export every stored item: JSON Lines for machines, "
                       "Excel or CSV in Chinese for people")
    p.add_argument("--format", choices=["jsonl", "xlsx", "csv"], default="jsonl",
                   help="jsonl (default, the machine contract), xlsx or csv (for people: "
                        "Chinese columns, local times, no identity)")
    p.add_argument("--since", help="ISO date or time; items received from then on")
    p.add_argument("--until", help="ISO date (that day included) or time; items received "
                                   "until then")
    p.add_argument("--round", dest="rounds", action="append", default=[], metavar="SLUG",
                   help="only this round's items (repeatable, or SLUG,SLUG)")
    p.add_argument("--with-identity", action="store_true",
                   help="include reporter identity (JSON Lines only; recorded in the audit log)")
    p.add_argument("--out", dest="out_path", help="the file to write (xlsx: required)")

    p = sub.add_parser("ocr", help="OCR images and PDFs offline: a JSON line per page")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("duplicates", help="possible duplicates across channels")
    dup_sub = p.add_subparsers(dest="duplicates_command", required=True)
    backfill = dup_sub.add_parser("backfill", help="index stored items and link duplicates")
    backfill.add_argument("--rebuild", action="store_true",
                          help="index every item again (after roster or classification changes)")

    p = sub.add_parser("protect", help="reporter protection")
    protect_sub = p.add_subparsers(dest="protect_command", required=True)
    protect_sub.add_parser("backfill", help="mask identity in items stored before masking "
                           "existed (originals sealed), then compact the database")

    p = sub.add_parser("audit", help="the audit log")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain; exit 1 at the first broken link")

    p = sub.add_parser("rules", help="routing rules")
    rules_sub = p.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate routing rules")
    check.add_argument("directory", nargs="?")

    p = sub.add_parser("users", help="staff accounts")
    users_sub = p.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=list(STAFF_ROLES))
    add.add_argument("--team", action="append", default=[], metavar="TEAM",
                     help="a team the account belongs to (repeatable; duty officers, triagers "
                          "and team leaders; default: the one team there is)")
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of generating one")
    for name, text in (("disable", "disable an account and end its sessions"),
                       ("enable", "enable a disabled account"),
                       ("unlock", "end a login lock after repeated failures"),
                       ("reset-totp", "remove an account's second factor (lost phone)")):
        users_sub.add_parser(name, help=text).add_argument("username")
    add_user_commands(users_sub)
    token = users_sub.add_parser("token", help="print a new personal API token once, or revoke "
                                 "all of an account's tokens")
    token.add_argument("username")
    token.add_argument("--label", default="", help="what the token is for (shown in the log)")
    token.add_argument("--revoke", action="store_true", help="revoke every token of the account")

    p = sub.add_parser("rounds", help="inspection rounds: load, list, close, archive, publish")
    rounds_sub = p.add_subparsers(dest="rounds_command", required=True)
    load = rounds_sub.add_parser("load", help="load or update round files")
    load.add_argument("files", nargs="+", metavar="FILE")
    rounds_sub.add_parser("list", help="one JSON line per round")
    for name, text in (("close", "stop taking items as on time (later ones are marked late)"),
                       ("reopen", "open a round closed by mistake"),
                       ("hand-over", "mark a closed round's leads handed over"),
                       ("archive", "archive a round: it takes no more items")):
        state = rounds_sub.add_parser(name, help=text)
        state.add_argument("slug")
        state.add_argument("--reason", default="", help="recorded in the audit log")
        if name == "hand-over":
            state.add_argument("--bundle", default="", metavar="OUT.zip",
                               help="also write the encrypted handover bundle; its password "
                                    "is printed once")
            state.add_argument("--with-identity", action="store_true",
                               help="include reporters' identities (a team leader's choice, "
                                    "with --as and --reason)")
            state.add_argument("--as", dest="as_user", default="", metavar="USERNAME",
                               help="the team leader making the bundle")
    rounds_sub.add_parser("purge", help="destroy what the retention rule says is due")
    publish = rounds_sub.add_parser("publish", help="write the announcement and posters")
    publish.add_argument("slug")
    publish.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser("devices", help="call-centre devices (their tokens)")
    devices_sub = p.add_subparsers(dest="devices_command", required=True)
    dev_add = devices_sub.add_parser("add", help="create a device; prints its token once")
    dev_add.add_argument("name")
    dev_add.add_argument("--team", default="", help="the team whose open round(s) it serves")
    devices_sub.add_parser("list", help="devices, revoked ones too")
    devices_sub.add_parser("revoke", help="revoke a device's token").add_argument("name")

    p = sub.add_parser("clients", help="trusted API clients (a 码上巡察 backend)")
    clients_sub = p.add_subparsers(dest="clients_command", required=True)
    add = clients_sub.add_parser("add", help="create a client; prints its token once")
    add.add_argument("name")
    add.add_argument("--limit", default="", metavar="LIMIT",
                     help='its own limit, e.g. "600 per hour;5000 per day" (default: setting)')
    clients_sub.add_parser("list", help="clients, revoked ones too")
    revoke = clients_sub.add_parser("revoke", help="revoke a client's token")
    revoke.add_argument("name")

    args = parser.parse_args(argv)
    try:
        _configure_logging()
        return _dispatch(args)
    except (SettingsError, RoundFileError) as exc:
        print(f"intake: {exc}", file=sys.stderr)
        return 2


def _configure_logging() -> None:
    """Levels for our loggers and deliberate ones for libraries (intake/logs.py)."""
    from intake.logs import configure_logging

    try:
        level = load_settings().log_level
    except SettingsError:
        level = "INFO"  # the command itself reports the bad setting if it needs settings
    try:
        configure_logging(level)
    except ValueError as exc:
        raise SettingsError(f"setting {exc}") from exc


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "classify":
        from intake.classify.command import run_classify

        return run_classify(args.round, args.in_path, args.out_path, args.model)
    if args.command == "evaluate":
        from intake.classify.command import run_evaluate

        return run_evaluate(args.round, args.files, as_json=args.json, model=args.model)
    if args.command == "train":
        from intake.classify.command import run_train
        from intake.classify.models_store import active_version

        settings = load_settings()
        done = run_train(settings, args.data, use_db=not args.no_db,
                         activate=not args.no_activate, cv=args.cv,
                         semantic_words=args.semantic)
        if done == 0 and not args.no_activate:
            _record(settings, "model.activate", version=active_version(settings.data_dir),
                    trained=True)
        return done
    if args.command == "models":
        from intake.classify.command import run_models_list, run_models_use

        if args.models_command == "use":
            settings = load_settings()
            done = run_models_use(settings, args.version)
            if done == 0:
                _record(settings, "model.activate", version=args.version)
            return done
        return run_models_list(load_settings())
    if args.command == "duplicates":
        from intake.desk import open_desk
        from intake.duplicates import backfill as run_backfill

        desk = open_desk(load_settings())
        try:
            done = run_backfill(desk, rebuild=args.rebuild)
        finally:
            desk.close()
        print(f"已为 {done} 件建立查重索引。")
        return 0
    if args.command == "protect":
        return _protect_backfill()
    if args.command == "ocr":
        from intake.ocr import cli_main

        return cli_main(args.files, sys.stdout)
    if args.command == "rules":
        from intake.classify.command import run_rules_check

        return run_rules_check(args.directory)
    if args.command == "serve":
        from handlers.serve import serve

        overrides = {k: v for k, v in (("http_host", args.host), ("http_port", args.port),
                                         ("smtp_port", args.smtp_port)) if v}
        return serve(load_settings(**overrides))
    if args.command == "smtp":
        from handlers.serve import serve_mail

        overrides = {k: v for k, v in (("smtp_host", args.host), ("smtp_port", args.port)) if v}
        return serve_mail(load_settings(**overrides))
    if args.command == "export":
        return _export(args)
    if args.command == "outbox":
        return _outbox_retry()
    if args.command == "digest":
        from intake.digest import run_digest

        return run_digest(load_settings(), team=args.team, day=args.day, send=args.send)
    if args.command == "rounds":
        from intake.roundcmd import run_rounds

        return run_rounds(load_settings(), args.rounds_command, getattr(args, "files", []),
                          getattr(args, "slug", ""), getattr(args, "reason", ""),
                          out=getattr(args, "out", ""), bundle=getattr(args, "bundle", ""),
                          with_identity=getattr(args, "with_identity", False),
                          as_user=getattr(args, "as_user", ""))
    if args.command == "devices":
        from intake.roundcmd import run_devices

        return run_devices(load_settings(), args.devices_command, getattr(args, "name", ""),
                           getattr(args, "team", ""))
    if args.command == "clients":
        from intake.clients import run_command

        return run_command(load_settings(), args.clients_command, getattr(args, "name", ""),
                           getattr(args, "limit", ""))
    if args.command == "users":
        if args.users_command in USER_COMMANDS:
            from intake.usercmd import run_users

            return run_users(load_settings(), args)
        if args.users_command == "token":
            return _users_token(args)
        return _users_add(args) if args.users_command == "add" else _users_manage(args)
    if args.command == "audit":
        return _audit_verify()
    raise AssertionError(args.command)


def _outbox_retry() -> int:
    from intake.desk import open_desk
    from intake.outbox import db_retry_failed
    from intake.store.db import begin_write

    desk = open_desk(load_settings())
    try:
        with desk.sessions() as session:
            begin_write(session)
            count = db_retry_failed(session)
            session.commit()
    finally:
        desk.close()
    print(f"已重新排队 {count} 封待发邮件；运行中的服务会在一分钟内发出。")
    return 0


def _protect_backfill() -> int:
    from intake.desk import open_desk
    from intake.maskstore import backfill, compact

    desk = open_desk(load_settings())
    try:
        counts = backfill(desk)
        compact(desk)  # the unmasked texts must not survive in free pages or the WAL
    finally:
        desk.close()
    print(f"已隐去身份信息：{counts.items} 件正文或标题，{counts.messages} 条消息，"
          f"{counts.attachments} 个附件名，{counts.scan_files} 个扫描文件名，"
          f"{counts.scan_texts} 段识别文字，{counts.evidence} 处研判依据。")
    if counts.items:
        print("请再运行 intake duplicates backfill --rebuild，按隐去后的文字重建查重索引。")
    return 0


def _export(args: argparse.Namespace) -> int:
    from intake.desk import open_desk
    from intake.export import iter_export
    from intake.items import QueryError, parse_moment

    def refuse(message: str) -> int:
        print(f"intake export: {message}", file=sys.stderr)
        return 2

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            return refuse(f"--since {args.since!r} is not an ISO date")
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    try:  # naive times in UTC, as --since
        until = parse_moment(args.until or "", "until", UTC, end=True)
    except QueryError:
        return refuse(f"--until {args.until!r} is not an ISO date")
    if since is not None and until is not None and until <= since:
        return refuse("--until is before --since")
    if args.with_identity and args.format != "jsonl":
        return refuse(f"--with-identity is for JSON Lines only; the {args.format} export is "
                      "for people and never carries a reporter's identity")
    if args.format == "xlsx" and not args.out_path:
        return refuse("an xlsx export needs --out FILE")
    desk = open_desk(load_settings())
    actor = _cli_actor()
    try:
        slugs = [s.strip() for value in args.rounds for s in value.split(",") if s.strip()]
        rounds = [desk.rounds.by_slug(slug) for slug in slugs]
        unknown = [slug for slug, entry in zip(slugs, rounds, strict=True) if entry is None]
        if unknown:
            known = ", ".join(e.slug for e in desk.rounds.all()) or "none"
            return refuse(f"no round {', '.join(unknown)} (rounds: {known})")
        chosen = list({e.id: e for e in rounds if e is not None}.values())
        if args.format != "jsonl":
            return _export_for_people(desk, args, since=since, until=until, rounds=chosen,
                                      actor=actor)
        with contextlib.ExitStack() as stack:
            out = (stack.enter_context(_private_file(Path(args.out_path)))
                   if args.out_path else sys.stdout)
            for record in iter_export(desk, since=since, until=until, rounds=chosen,
                                      with_identity=args.with_identity, actor_label=actor):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        desk.close()
    return 0


def _export_for_people(desk: Desk, args: argparse.Namespace, *, since: datetime | None,
                       until: datetime | None, rounds: list[RoundEntry], actor: str) -> int:
    """The xlsx or csv export: written to --out (0600), csv to standard output without it."""
    from intake import exportsheet
    from intake.items import zone_of
    from intake.workdays import CHINA

    rows = exportsheet.export_rows(desk, since=since, until=until, rounds=rounds,
                                   fmt=args.format, actor_label=actor)
    if args.format == "csv":
        with contextlib.ExitStack() as stack:
            out = (stack.enter_context(_private_file(Path(args.out_path), newline=""))
                   if args.out_path else sys.stdout)
            exportsheet.write_csv(rows, out)
        return 0
    zone = zone_of(rounds[0].cfg) if len(rounds) == 1 else CHINA
    made = datetime.now(UTC).astimezone(zone)
    names = "、".join(e.cfg.name for e in rounds) or "全部轮次"
    period = "至".join(f"{moment.astimezone(zone):%Y-%m-%d %H:%M}" if moment else "" for
                       moment in (since, until)) if since or until else "全部"
    with _private_binary(Path(args.out_path)) as out:
        exportsheet.write_xlsx(rows, out, title="信访举报件导出",
                               note=f"{names}    收件时间：{period}    "
                                    f"导出时间：{made:%Y-%m-%d %H:%M}（不含举报人身份信息）")
    return 0


def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}@{os.uname().nodename}"


def _record(settings: Settings, action: str, **detail: object) -> None:
    """An audit event for something done on the command line."""
    from intake.audit import db_record
    from intake.desk import open_desk
    from intake.store.db import begin_write

    desk = open_desk(settings)
    try:
        with desk.sessions() as session:
            begin_write(session)
            db_record(session, action, actor_label=_cli_actor(), **detail)
            session.commit()
    finally:
        desk.close()


def _audit_verify() -> int:
    """Print the first broken link (exit 1) or how many events verified up to which head."""
    from intake.audit.chain import verify
    from intake.desk import open_desk

    settings = load_settings()
    desk = open_desk(settings)
    try:
        result = verify(desk.sessions, desk.keyring.audit_key, settings.data_dir)
    finally:
        desk.close()
    if result.broken is not None:
        b = result.broken
        print(f"审计链在第 {b.seq} 条断开（{b.kind}）：{b.message}")
        print(f"此前 {result.count} 条完好。")
    else:
        print(f"审计链完好：已校验 {result.count} 条，链头 #{result.head_seq} {result.head_hash}")
    if result.missing_triggers:
        print(f"警告：防篡改触发器缺失或被停用：{', '.join(result.missing_triggers)}")
    return 0 if result.ok else 1


def _private_file(path: Path, *, newline: str | None = None) -> TextIO:
    """An export file readable by its owner only: it holds every report's content."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline=newline)


def _private_binary(path: Path) -> BinaryIO:
    """A binary export file (a workbook) readable by its owner only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")


def _users_add(args: argparse.Namespace) -> int:
    from intake.desk import open_desk
    from intake.staff import StaffError, create_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    desk = open_desk(load_settings())
    try:
        user, password = create_user(desk, args.username, args.role, display_name=args.name,
                                     password=password, actor_label=f"cli:{getpass.getuser()}",
                                     teams=args.team)
    except StaffError as exc:
        print(f"intake users add: {exc.message}", file=sys.stderr)
        return 2
    finally:
        desk.close()
    if not args.password_stdin:
        print(f"已创建 {user.username}（{user.role}）。一次性密码：{password}")
        print("首次登录后须修改密码。")
    else:
        print(f"已创建 {user.username}（{user.role}）。")
    return 0


def _users_manage(args: argparse.Namespace) -> int:
    """disable / enable / unlock / reset-totp: audited, with the operator as the actor."""
    from intake.desk import open_desk
    from intake.staff import StaffError, reset_second_factor, set_active, unlock

    desk = open_desk(load_settings())
    actor = f"cli:{getpass.getuser()}"
    name = args.username
    try:
        if args.users_command in ("disable", "enable"):
            set_active(desk, name, args.users_command == "enable", actor_label=actor)
            print(f"已{'启用' if args.users_command == 'enable' else '停用'} {name}"
                  f"{'' if args.users_command == 'enable' else '，其登录已全部退出'}。")
        elif args.users_command == "unlock":
            had = unlock(desk, name, actor_label=actor)
            print(f"已解锁 {name}。" if had else f"{name} 没有被锁定，也没有失败记录。")
        else:
            had = reset_second_factor(desk, name, actor_label=actor)
            print(f"已重置 {name} 的两步验证，其登录已全部退出。" if had
                  else f"{name} 没有设置两步验证；其登录已全部退出。")
    except StaffError as exc:
        print(f"intake users {args.users_command}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        desk.close()
    return 0


def _users_token(args: argparse.Namespace) -> int:
    """A new personal token on stdout, alone on its line (the only time it is shown); or
    `--revoke`: every token of the account revoked. Both audited."""
    from intake.auth.apitokens import create_token, revoke_tokens
    from intake.desk import open_desk
    from intake.staff import StaffError

    desk = open_desk(load_settings())
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.revoke:
            count = revoke_tokens(desk, args.username, actor_label=actor)
            print(f"已吊销 {args.username} 的 {count} 个个人接口令牌。")
            return 0
        token = create_token(desk, args.username, label=args.label, actor_label=actor)
    except StaffError as exc:
        print(f"intake users token: {exc.message}", file=sys.stderr)
        return 2
    finally:
        desk.close()
    print(token)
    print(f"这是 {args.username} 的个人接口令牌，只显示这一次；"
          "调用时放在 Authorization: Bearer 之后。", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
