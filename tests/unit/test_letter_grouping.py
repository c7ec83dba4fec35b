"""The grouping heuristic for scanned pages: where one letter ends and the next begins."""

from __future__ import annotations

import pytest

from intake.letters import PageClue, closes_letter, opens_letter, suggest_grouping

OPENING = "尊敬的巡察组领导：\n我是东岭村村民，反映村党支部书记的问题。"
MIDDLE = "他还把村里的集体土地租给自己的亲戚，租金一直没有公开。\n村民们意见很大。"
CLOSING = "恳请巡察组调查核实。\n此致\n敬礼！\n一名村民\n2026年3月5日"
DATED = "希望组织上认真查一查。\n反映人：王建国\n2026年3月1日"


@pytest.mark.parametrize(("text", "expected"), [
    ("尊敬的巡察组：\n我要反映问题。", True),
    ("尊敬的领导", True),  # OCR lost the colon
    ("敬爱的巡察组同志们：", True),
    ("县委第二巡察组：\n你们好！", True),
    ("巡视组领导:\n我们是农民工。", True),  # ASCII colon
    ("镇党委领导：", True),
    ("关于村党支部书记侵占惠农补贴的情况反映\n尊敬的省委巡视组：", True),  # title, then greeting
    ("关于镇政府公款吃喝问题的意见\n你好！今年1月以来……", True),
    ("举报信\n我举报村会计贪污。", True),
    ("实名举报\n……", True),
    ("您好！\n我是一名教师。", True),
    ("他对村民说：“上面还没拨款。”", False),
    ("2025年8月修建村道时，他让自己的亲戚承包工程。", False),
    (MIDDLE, False),
    ("", False),
    ("第一行\n第二行\n第三行\n尊敬的巡察组：", False),  # too far down to be an opening
])
def test_opens_letter(text: str, expected: bool) -> None:
    assert opens_letter(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    (CLOSING, True),
    (DATED, True),
    ("……依法追究责任。\n农民工代表：张德胜\n2026年2月18日", True),
    ("请查处。\n二〇二六年三月五日", True),
    ("请查处。\n2026.3.5", True),
    ("请查处。\n2026-03-05", True),
    ("请查处。\n2026年3月", True),
    ("请查处。\n此致", True),
    ("请查处。\n敬礼！", True),
    ("请查处。\n举报人：一名老党员", True),
    ("恳请组织调查。\n一名普通党员", True),
    ("请查处。\n2026 年 3 月 5 日", True),  # OCR spaces
    ("2026年3月5日，他在村委会说……\n村民都听见了。", False),  # a date inside the text
    ("2024年至2025年，村里共有37户农户的补贴被扣留。", False),
    (MIDDLE, False),
    ("", False),
    ("此致\n敬礼\n第三行\n第四行\n第五行\n第六行", False),  # sign-off too far up
])
def test_closes_letter(text: str, expected: bool) -> None:
    assert closes_letter(text) is expected


def pages(*specs: tuple[int, str, str | None]) -> list[PageClue]:
    """(file, "img" or "pdf", text) per page."""
    return [PageClue(file=f, image=kind == "img", text=text) for f, kind, text in specs]


CASES = {
    # One PDF of the day's post: three letters, told apart by salutations and sign-offs.
    "postal pdf split by salutation": (
        "postal", pages((1, "pdf", OPENING), (1, "pdf", MIDDLE), (1, "pdf", OPENING)),
        [True, False, True]),
    "postal pdf split after sign-off": (
        "postal", pages((1, "pdf", OPENING), (1, "pdf", CLOSING), (1, "pdf", MIDDLE)),
        [True, False, True]),
    "postal pdf blank back side stays with its letter": (
        "postal", pages((1, "pdf", OPENING), (1, "pdf", CLOSING), (1, "pdf", ""),
                        (1, "pdf", MIDDLE)),
        [True, False, False, True]),
    "postal pdf unreadable page after a sign-off starts a letter": (
        "postal", pages((1, "pdf", CLOSING), (1, "pdf", None), (1, "pdf", MIDDLE)),
        [True, True, False]),
    "postal pdf unreadable page mid-letter stays": (
        "postal", pages((1, "pdf", OPENING), (1, "pdf", None), (1, "pdf", CLOSING)),
        [True, False, False]),
    # A letter photographed page by page: consecutive images run on.
    "postal photos of one letter run on": (
        "postal", pages((1, "img", OPENING), (2, "img", MIDDLE), (3, "img", CLOSING)),
        [True, False, False]),
    "postal photos split at the next salutation": (
        "postal", pages((1, "img", OPENING), (2, "img", CLOSING), (3, "img", OPENING),
                        (4, "img", MIDDLE)),
        [True, False, True, False]),
    "postal photos split after a dated signature": (
        "postal", pages((1, "img", DATED), (2, "img", MIDDLE)),
        [True, True]),
    "postal unreadable photo starts a letter": (
        "postal", pages((1, "img", OPENING), (2, "img", None)),
        [True, True]),
    "postal blank photo runs on": (
        "postal", pages((1, "img", OPENING), (2, "img", "  \n")),
        [True, False]),
    "postal new pdf starts a letter": (
        "postal", pages((1, "pdf", OPENING), (2, "pdf", MIDDLE)),
        [True, True]),
    "postal image after a pdf starts a letter": (
        "postal", pages((1, "pdf", OPENING), (2, "img", MIDDLE)),
        [True, True]),
    # A box opening: every photographed note is its own letter.
    "box notes one per image": (
        "box", pages((1, "img", MIDDLE), (2, "img", MIDDLE), (3, "img", "")),
        [True, True, True]),
    "box pdf split inside by salutation": (
        "box", pages((1, "pdf", OPENING), (1, "pdf", MIDDLE), (1, "pdf", OPENING),
                     (2, "img", MIDDLE)),
        [True, False, True, True]),
    "box blank page inside a pdf stays": (
        "box", pages((1, "pdf", OPENING), (1, "pdf", "")),
        [True, False]),
    "single page": ("box", pages((1, "img", None)), [True]),
    "nothing": ("postal", [], []),
}


@pytest.mark.parametrize(("source", "clues", "expected"), CASES.values(), ids=CASES.keys())
def test_suggest_grouping(source: str, clues: list[PageClue], expected: list[bool]) -> None:
    assert suggest_grouping(clues, source=source) == expected
