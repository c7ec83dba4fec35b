"""What each audit action is called in Chinese: the one mapping the pages and exports use."""

from __future__ import annotations

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
    "staff.login": "登录",
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
}


def action_label(action: str) -> str:
    """The Chinese name of an audit action; an unknown code is shown as it is."""
    return ACTION_LABELS.get(action, action)
