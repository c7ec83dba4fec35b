"""`intake users list|set-role|set-teams|reset-password`: account administration on the server,
with the operator recorded as the actor (`users add` and the lock commands are in intake.cli)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from intake.settings import Settings
from intake.store.models import STAFF_ROLES

COMMANDS = ("list", "set-role", "set-teams", "reset-password")


def add_commands(users_sub: Any) -> None:
    """The sub-commands of `intake users` this module runs."""
    users_sub.add_parser("list", help="one JSON line per account (role, teams, state)")
    role = users_sub.add_parser("set-role", help="give an account another role (its sessions "
                                                 "end)")
    role.add_argument("username")
    role.add_argument("role", choices=list(STAFF_ROLES))
    role.add_argument("--team", action="append", default=None, metavar="TEAM",
                      help="the teams with the new role (repeatable; a duty officer, triager "
                           "or team leader keeps its teams without it)")
    teams = users_sub.add_parser("set-teams", help="put an account in these teams instead "
                                                   "(its sessions end)")
    teams.add_argument("username")
    teams.add_argument("teams", nargs="*", metavar="TEAM")
    users_sub.add_parser("reset-password", help="a new one-time password (printed once); "
                                                "its sessions end").add_argument("username")


def run_users(settings: Settings, args: argparse.Namespace) -> int:
    """Run one of COMMANDS; exit 2 with a Chinese message on a refusal."""
    from intake.desk import open_desk
    from intake.staff import (
        ROLE_NAMES,
        StaffError,
        list_users,
        reset_password,
        set_role,
        set_teams,
    )

    desk = open_desk(settings)  # like `users add`: the round files' teams exist
    actor = f"cli:{getpass.getuser()}"
    command = args.users_command
    try:
        if command == "list":
            for user in list_users(desk):
                print(json.dumps(user.as_json(), ensure_ascii=False))
        elif command == "set-role":
            changed = set_role(desk, args.username, args.role, teams=args.team,
                               actor_label=actor)
            print(f"{args.username} 现为{ROLE_NAMES[args.role]}"
                  f"{'，其登录已全部退出' if changed else '（未变）'}。")
        elif command == "set-teams":
            changed = set_teams(desk, args.username, args.teams, actor_label=actor)
            print(f"已调整 {args.username} 的所属巡察组，其登录已全部退出。" if changed
                  else f"{args.username} 的所属巡察组未变。")
        elif command == "reset-password":
            password = reset_password(desk, args.username, actor_label=actor)
            print(f"已重置 {args.username} 的密码，其登录已全部退出。一次性密码：{password}")
            print("下次登录后须修改密码。")
        else:
            raise AssertionError(command)
    except StaffError as exc:
        print(f"intake users {command}: {exc.message}", file=sys.stderr)
        return 2
    finally:
        desk.close()
    return 0
