"""What each audit action and detail is called in Chinese: the mappings pages and exports use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ACTION_LABELS: dict[str, str] = {
    # reporters' identity and originals
    "identity.reveal": "查看举报人身份",
    "identity.reveal.refused": "查看举报人身份（被拒绝）",
    "mail.raw_download": "下载原始邮件",
    "mail.raw_download.refused": "下载原始邮件（被拒绝）",
    "attachment.download": "下载附件",
    "scan.download": "下载扫描原件",
    "scan.page_view": "查看扫描页",
    # items and decisions
    "item.view": "查看件",
    "item.spam": "标记为垃圾信息",
    "item.not_spam": "移出垃圾信息",
    "decision.confirm": "确认研判建议",
    "decision.correct": "更正研判结果",
    "reply.send": "答复举报人",
    # after triage: the ledger, transfers, repeats, closing, reporters told, handover
    "lead.accept": "受理为线索",
    "lead.keeper": "更换承办人",
    "transfer.create": "转办",
    "transfer.reply": "登记转办答复",
    "transfer.remind": "督办",
    "transfer.reopen": "重新交办",
    "transfer.letter": "下载转办函",
    "item.repeat": "登记为重复件",
    "item.repeat_undo": "撤销重复件",
    "item.extend": "延长办理期限",
    "item.close": "办结",
    "notice.done": "告知已送达",
    "notice.letter": "打印告知书和信封",
    "notice.no_answer": "回访未接通",
    "ledger.download": "下载线索台账",
    "report.weekly": "下载受理情况周报",
    "report.appendix": "下载巡察结束附件（统计表、线索清单、转办一览表）",
    "stats.download": "下载统计表",
    "handover.bundle": "生成移交包",
    "handover.bundle_with_identity": "生成移交包（含举报人身份）",
    "handover.bundle_with_identity.refused": "生成含举报人身份的移交包（被拒绝）",
    "letter.submit": "提交来信",
    "appointment_confirmed": "确认面谈预约",
    "appointment_declined": "拒绝面谈预约",
    # exports
    "export.plain": "导出（不含举报人身份）",
    "export.with_identity": "导出（含举报人身份）",
    "audit.export": "导出审计记录",
    # accounts, sessions and credentials
    "staff.create": "创建账号",
    # before server-held sessions (kept for events recorded then)
    "staff.login": "登录成功",
    "staff.password_change": "修改密码",
    "login.success": "登录成功",
    "login.failure": "登录失败",
    "login.locked": "账号临时锁定",
    "login.unlock": "解除账号锁定",
    "logout": "退出登录",
    "password.change": "修改密码",
    "totp.enrol": "启用两步验证",
    "totp.reset": "重置两步验证",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "session.expired": "会话超时",
    "device_create": "创建呼叫中心接入令牌",
    "device_revoke": "吊销呼叫中心接入令牌",
    "api_client_create": "创建受信任接口客户端",
    "api_client_revoke": "吊销受信任接口客户端",
    # the service
    "model.activate": "启用分类模型",
    # teams and rounds
    "round.load": "载入巡察轮次",
    "round.update": "更新巡察轮次",
    "round.state": "变更轮次状态",
    "round.purge": "按保存期限销毁轮次材料",
    "team.create": "创建巡察组",
    "user.teams": "调整所属巡察组",
    "user.role": "变更账号角色",
    "user.password_reset": "重置密码",
    "access.denied": "打开不在本组范围的反映件（未找到）",
    "account.refused": "被拒绝的账号操作",
    "token.create": "创建个人接口令牌",
    "token.revoke": "吊销个人接口令牌",
}


def action_label(action: str) -> str:
    """The Chinese name of an audit action; an unknown code is shown as it is."""
    return ACTION_LABELS.get(action, action)


def action_choices() -> list[tuple[str, str]]:
    """(code, label) for the action filter: each label once, under its first code."""
    seen: dict[str, str] = {}
    for code, label in ACTION_LABELS.items():
        seen.setdefault(label, code)
    return [(code, label) for label, code in seen.items()]


def same_label_codes(action: str) -> list[str]:
    """Every code shown under the same label as `action` (old and new names of one act)."""
    label = ACTION_LABELS.get(action)
    if label is None:
        return [action]
    return [code for code, other in ACTION_LABELS.items() if other == label]


DETAIL_LABELS: dict[str, str] = {
    "what": "对象",
    "id": "编号",
    "action": "操作",
    "round": "轮次",
    "rounds": "轮次",
    "scope": "统计范围",
    "period": "统计时段",
    "team": "巡察组",
    "teams": "巡察组",
    "before": "原状态",
    "after": "新状态",
    "sha256": "文件摘要",
    "address": "地址",
    "second_factor": "两步验证",
    "step": "步骤",
    "why": "原因",
    "minutes": "锁定分钟数",
    "refused": "拒绝原因",
    "username": "账号",
    "role": "角色",
    "old_role": "原角色",
    "new_role": "新角色",
    "old_teams": "原巡察组",
    "sessions_ended": "结束会话数",
    "had_failures": "曾有失败登录",
    "had_second_factor": "原已启用两步验证",
    "since": "起始时间",
    "until": "截止日期",
    "actor": "操作人",
    "filter_action": "操作",
    "item": "件号",
    "in_scope": "属受理范围",
    "disciplines": "违纪类别",
    "routes": "转办去向",
    # what a purge under the retention rule destroyed (round.purge)
    "items": "件数",
    "identities": "举报人身份",
    "originals": "原文",
    "messages": "往来消息",
    "attachments": "附件",
    "mails": "原始邮件",
    "scan_files": "扫描文件",
    "scan_pages": "扫描页",
    "files_deleted": "删除的文件",
    "message_id": "消息编号",
    "inbound_mail_id": "邮件编号",
    "attachment_id": "附件编号",
    "batch_id": "批次编号",
    "letter_id": "来信编号",
    "scan_file_id": "扫描文件编号",
    "scan_page_id": "扫描页编号",
    "slot_id": "时段编号",
    "device_id": "令牌编号",
    "client_id": "客户端编号",
    "token_id": "个人令牌编号",
    "tokens": "吊销令牌数",
    "via": "途径",
    "name": "名称",
    "rate_limit": "频率上限",
    "version": "模型版本",
    "trained": "新训练",
    # after triage (intake.leads)
    "number": "编号",
    "keeper": "承办人",
    "transfer_id": "转办记录编号",
    "department": "受理单位",
    "kind": "类型",
    "of": "原件",
    "due": "期限",
    "disposal": "处置方式",
    "notice_id": "告知编号",
    "format": "格式",
    "with_identity": "含举报人身份",
    "leads": "线索数",
    "delivery": "送达方式",
    "count": "份数",
    "notice_ids": "各份告知编号",
}


ROLE_KEYS = ("role", "old_role", "new_role")


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if key == "filter_action" and isinstance(value, str):
        return action_label(value)
    if key in ROLE_KEYS and isinstance(value, str):
        from intake.staff import ROLE_NAMES  # here: intake.staff records events itself

        return ROLE_NAMES.get(value, value)
    if isinstance(value, list):
        return "、".join(_value("", v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def detail_items(detail: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """An event's detail as (Chinese name, shown value); None left out, unknown keys as they are."""
    return [(DETAIL_LABELS.get(k, k), _value(k, v))
            for k, v in (detail or {}).items() if v is not None]
