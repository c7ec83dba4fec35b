"""Chinese labels and formatting for pages (no logic that decides anything)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intake.attachments import ALLOWED_TYPES
from intake.classify import Evidence
from intake.names import CHANNEL_NAMES, CLOCK_TITLES, STATUS_NAMES, SUBJECT_ROLE_SHORT
from intake.protect import format_code
from intake.submission import CATEGORIES as REPORT_CATEGORIES
from intake.workdays import CHINA

CHANNELS = CHANNEL_NAMES
DESK_FLAGS = {"outside_hours": "非值班时段来电", "non_working_day": "非工作日来电",
              "before_open": "巡察开始前", "after_close": "受理截止后",
              "calendar_assumed": "日历未收录该年，按周一至周五计"}
APPOINTMENT_PUBLIC = {"requested": "已申请，等待工作人员确认", "confirmed": "已确认，请按时到达",
                      "declined": "未能安排", "cancelled": "已取消"}
APPOINTMENT_STATUSES = {"requested": "待确认", "confirmed": "已确认", "declined": "未能安排",
                        "cancelled": "已取消"}
DISCIPLINES = {"political": "政治纪律", "organizational": "组织纪律", "integrity": "廉洁纪律",
               "mass": "群众纪律", "work": "工作纪律", "life": "生活纪律"}
# What a piece of evidence supports: a discipline, or (with none named) the accusation itself.
EVIDENCE_LABELS = {**DISCIPLINES, "accusation": "违纪指控（未归类）", "frame": "举报表述"}
ROLES = {
    "leadership": "被巡察党组织领导班子成员",
    "subordinate_head": "下一级党组织主要负责人",
    "key_post": "重要岗位领导干部",
    "staff": "一般干部或工作人员",
    "outside_official": "非本单位公职人员",
    "non_official": "非公职人员",
    "unknown": "无法确定",
}
ROLE_SHORT = SUBJECT_ROLE_SHORT
DEADLINES = CLOCK_TITLES
STATUSES = STATUS_NAMES
EVIDENCE_STATUS = {"asserted": "明确反映", "hedged": "传闻/推测", "negated": "否定"}
IDENTITY_FIELDS = {
    "name": "姓名",
    "phone": "联系电话",
    "id_number": "身份证号",
    "address": "住址/单位",
    "email": "电子邮箱",
    "display_name": "发件人名称",
}
CATEGORIES = REPORT_CATEGORIES
AUTOREPLY = {
    "queued": "已发出或待发出（含查询码）",
    "disabled": "未发送：自动回复已关闭",
    "bounce": "未发送：退信或系统邮件",
    "auto_submitted": "未发送：对方为自动邮件",
    "bulk": "未发送：群发邮件",
    "list": "未发送：邮件列表",
    "suppressed": "未发送：对方要求不自动回复",
    "own_address": "未发送：发件人是本组邮箱",
    "spam": "暂缓：疑似垃圾邮件，移出垃圾信息后发出",
    "rate_limited": "未发送：同一邮箱自动回复过多",
}
OUTBOX = {"queued": "待发送", "held": "暂缓", "sent": "已发送", "failed": "发送失败"}
DUPLICATE_REASONS = {
    "quoted_code": "引用了该件的查询码，但发件地址不同",
    "same_raw": "与该件的邮件完全相同",
    "exact": "内容相同",
    "near": "内容相近",
    "same_matter": "反映同一人同一事项",
}


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(CHINA).strftime(fmt) if value else ""


def code_groups(code: str) -> str:
    return format_code(code)


def highlight(text: str, evidence: list[dict]) -> list[tuple[str, Evidence | None]]:
    """Split text into runs, each with the evidence that covers it (first one wins)."""
    placed = (Evidence(**e) for e in evidence
              if 0 <= e.get("start", -1) < e.get("end", -1) <= len(text))
    spans = sorted(placed, key=lambda e: (e.start, -e.end))
    runs: list[tuple[str, Evidence | None]] = []
    pos = 0
    for e in spans:
        if e.start < pos:
            continue
        if e.start > pos:
            runs.append((text[pos:e.start], None))
        runs.append((text[e.start:e.end], e))
        pos = e.end
    if pos < len(text):
        runs.append((text[pos:], None))
    return runs


def mark_id(e: Evidence) -> str:
    """The id of the highlighted run of the text that starts where `e` does."""
    return f"ev-{e.start}"


def evidence_marks(runs: list[tuple[str, Evidence | None]], evidence: list[dict]) -> list[str]:
    """For each evidence item, the id of the highlighted run covering its start ('' if none):
    an item that overlaps an earlier one links to the run that won the place."""
    marks = [e for _, e in runs if e is not None]
    found = []
    for item in evidence:
        start = item.get("start", -1)
        hit = next((e for e in marks if e.start <= start < e.end), None)
        found.append(mark_id(hit) if hit else "")
    return found


# Where a clause ends in a complaint: sentence and clause punctuation, and line breaks.
CLAUSE_BREAKS = frozenset("。！？；，、：,;!?:\n\r")


def _clause_bounds(text: str, start: int, end: int, reach: int) -> tuple[int, int]:
    """Where the clause around text[start:end] begins and ends, at most `reach` characters
    each side of the words."""
    left = start
    while left > 0 and text[left - 1] not in CLAUSE_BREAKS and start - left < reach:
        left -= 1
    right = end
    while right < len(text) and text[right] not in CLAUSE_BREAKS and right - end < reach:
        right += 1
    return left, right


def _placed(text: str, item: dict) -> bool:
    """Whether a piece of evidence has its words at its place in `text`."""
    start, end = item.get("start", -1), item.get("end", -1)
    return (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
            and text[start:end] == item.get("text"))


@dataclass
class EvidenceRow:
    """One line of the item page's 依据: a clause of the text (its matched words bold) with
    every label read in it (disciplines and the departments a route rule read it for), told
    the same way (asserted, hedged, negated; by rules or by the model)."""

    status: str
    source: str
    mark: str
    labels: list[str] = field(default_factory=list)
    # The clause as (words, bold) runs, "…" where it is cut; empty for evidence with no place
    # in the text (then `words` is what it says).
    parts: list[tuple[str, bool]] = field(default_factory=list)
    words: str = ""


def evidence_rows(text: str, evidence: list[dict], marks: list[str],
                  reach: int = 24) -> list[EvidenceRow]:
    """The evidence as the page lists it: pieces in one clause of the text with the same
    status, all found by rules or all by the model, share a line (the clause once, every
    matched word bold, each label once), so a clause that two rules or two labels read is not
    quoted twice; the form's category stays a line of its own."""
    rows: list[EvidenceRow] = []
    spans: list[list[tuple[int, int]]] = []
    by_key: dict[tuple[Any, ...], int] = {}
    for index, item in enumerate(evidence):
        status = str(item.get("status", "asserted"))
        source = str(item.get("source", ""))
        placed = source != "form" and _placed(text, item)
        if source == "form":
            key: tuple[Any, ...] = ("form", index)
        elif placed:
            whole = _clause_bounds(text, item["start"], item["end"], len(text))
            key = ("clause", whole, status, source == "model")
        else:
            key = ("words", item.get("text", ""), status, source == "model")
        at = by_key.get(key)
        if at is None:
            at = by_key[key] = len(rows)
            rows.append(EvidenceRow(status=status, source=source, mark=marks[index],
                                    words=str(item.get("text", ""))))
            spans.append([])
        row = rows[at]
        label = str(item.get("label", ""))
        if label not in row.labels:
            row.labels.append(label)
        if placed:
            spans[at].append((item["start"], item["end"]))
    for row, placed_spans in zip(rows, spans, strict=True):
        if placed_spans:
            row.parts = _clause_parts(text, placed_spans, reach)
    return rows


def _clause_parts(text: str, spans: list[tuple[int, int]],
                  reach: int) -> list[tuple[str, bool]]:
    """The clause around all `spans` as (words, bold) runs, the spans bold."""
    bounds = [_clause_bounds(text, start, end, reach) for start, end in spans]
    left, right = min(b[0] for b in bounds), max(b[1] for b in bounds)
    bold = [any(start <= i < end for start, end in spans) for i in range(left, right)]
    parts: list[tuple[str, bool]] = []
    if left > 0 and text[left - 1] not in CLAUSE_BREAKS:
        parts.append(("…", False))
    for i, flag in zip(range(left, right), bold, strict=True):
        if parts and parts[-1][1] == flag and parts[-1][0] != "…":
            parts[-1] = (parts[-1][0] + text[i], flag)
        else:
            parts.append((text[i], flag))
    if right < len(text) and text[right] not in CLAUSE_BREAKS:
        parts.append(("…", False))
    return parts


def round_title(team: str, name: str) -> str:
    """A round as a line names it: the team once (a round's name often starts with it)."""
    return name if name.startswith(team) else f"{team} · {name}"


def file_kind(content_type: str) -> str:
    """A stored file's type in words (PNG 图片, PDF 文档), never its MIME code."""
    known = ALLOWED_TYPES.get(content_type)
    return known[1] if known else "其他文件"


def discipline_bodies(rules: Any) -> frozenset[str]:
    """Bodies a discipline charge goes to by the accused's role (the rules' discipline_routes):
    the charge's own evidence is their basis."""
    return frozenset(code for codes in rules.discipline_routes.values() for code in codes)


def route_unsure(cls: Any, bodies: frozenset[str]) -> bool:
    """Whether a classification transfers somewhere with nothing to show for it: the service's
    suggestion, confident (not needs_review), whose first department has no evidence naming
    it (the words a route rule read), nor, for a discipline body (`bodies`), a charge. A
    person's decision never is (the routes are then theirs)."""
    if cls is None or cls.source != "service" or cls.needs_review:
        return False
    first = next((r for r in cls.routes if r not in ("accept", "none")), None)
    if first is None:
        return False
    held = {e.get("label") for e in cls.evidence if e.get("status") != "negated"}
    if first in held:
        return False
    return not (first in bodies and held - set(cls.routes))
