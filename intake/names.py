"""The Chinese names of the service's codes, shared by the staff pages (handlers/web/display.py)
and the documents the core writes (the ledger, the digest, the handover bundle), so that a
channel, a status or a step is called the same everywhere."""

from __future__ import annotations

CHANNEL_NAMES = {"web": "网络举报", "api": "码上巡察", "email": "电子邮箱", "hotline": "值班电话",
                 "letter": "来信", "box": "意见箱", "visit": "来访"}
# What staff call an item's status (the public's words are intake.pipeline.PUBLIC_STATUS).
STATUS_NAMES = {"received": "待研判", "triaged": "已研判", "accepted": "已受理",
                "transferred": "已转办", "closed": "已办结", "spam": "疑似垃圾"}
SUBJECT_ROLE_SHORT = {"leadership": "班子成员", "subordinate_head": "下级主要负责人",
                      "key_post": "重要岗位", "staff": "一般干部",
                      "outside_official": "外单位公职人员", "non_official": "非公职人员",
                      "unknown": "不明"}
# The clocks of intake.items.deadlines, short (lists and the digest) and in full (the item page).
CLOCK_NAMES = {"triage": "研判", "reply_accept": "告知受理", "close": "办结",
               "transfer_accept": "转办受理", "transfer_reply": "转办结果"}
CLOCK_TITLES = {"triage": "研判（受理或转办）", "reply_accept": "告知实名举报人是否受理",
                "close": "办结", "transfer_accept": "转办受理", "transfer_reply": "转办反馈结果"}
# The signed steps after triage (models.STEP_KINDS).
STEP_NAMES = {"accepted": "受理为线索", "keeper": "更换承办人", "transferred": "转办",
              "dispatched": "寄送转办函", "reply": "登记答复", "reminded": "督办",
              "reopened": "重新交办", "repeat": "登记为重复件", "repeat_undone": "撤销重复件",
              "extended": "延期", "closed": "办结", "notice": "告知举报人"}
