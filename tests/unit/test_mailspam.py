"""score_spam on made-up mails: spam is marked with reasons; petitions are never marked."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from intake.mailparse import MailAttachment, ParsedMail, parse_mail
from intake.mailspam import score_spam


def make_mail(**overrides: Any) -> ParsedMail:
    """A plain, personal mail; override any field (headers as a dict)."""
    values: dict[str, Any] = {
        "subject": "", "from_address": "someone@example.cn", "from_name": "", "message_id": "",
        "in_reply_to": "", "text": "", "html_only": False, "attachments": (), "headers": {},
        "defects": (),
    }
    values.update(overrides)
    values["headers"] = MappingProxyType(dict(values["headers"]))
    return ParsedMail(**values)


LIST_HEADERS = {"precedence": "bulk", "list-unsubscribe": "<mailto:leave@example.cn>"}
PHOTO = (MailAttachment("信.jpg", "image/jpeg", b"\xff\xd8", False),)

SPAM = {
    "invoice": make_mail(subject="优惠代开发票", text=(
        "贵公司负责人您好：本公司因进项较多，现有增值税发票优惠代开，点数低，可验证后付款。"
        "联系人：王先生 13800138000 微信同号")),
    "obfuscated": make_mail(subject="开w票a l3690131927", text="开票l3690131927 VX同号 点数优惠"),
    "upstream_flag": make_mail(subject="hello", text="see the attached offer",
                               headers={"x-spam-flag": "YES"}),
    "upstream_status": make_mail(subject="你好", text="朋友你好，好久不见。",
                                 headers={"x-spam-status": "Yes, score=12.3 required=5.0"}),
    "gambling": make_mail(subject="博彩娱乐城注册送彩金", text=(
        "澳门博彩官方网站，注册即送88元，日赚千元不是梦！点击这里 http://a.example/x "
        "http://b.example/y http://c.example/z 客服QQ：12345678")),
    "training": make_mail(subject="中层干部管理培训课程火热招生", text=(
        "培训课程：时间管理、团队建设。费用：3800元/人，团报优惠价2800元/人。"
        "报名热线：021-12345678，联系人：李老师 13911112222。如不想再收到此类邮件请回复退订。"),
        headers=LIST_HEADERS),
    "html_image_ad": make_mail(subject="特价促销", text="DM", html_only=True,
                               headers=LIST_HEADERS),
    "phishing": make_mail(subject="邮箱账户即将停用", text=(
        "尊敬的用户：您的邮箱账户容量已满，将于24小时内停用。请立即点击链接登录并验证密码，"
        "以免邮件丢失。http://mail-check.example/login")),
    "english": make_mail(subject="Special offer for you", text=(
        "Dear friend, buy now and get the best price on cheap watches. Limited time discount! "
        "Click here: http://shop.example/deal  To unsubscribe reply STOP.")),
    "japanese": make_mail(subject="お客様のアカウントがロックされました", text=(
        "あなたのクレジットカード口座が第三者によって使用されていることを検知しました。"
        "すぐにログインしてパスワードを再登録してください。http://phish.example/")),
    "contact_only_on_list": make_mail(subject="浪淘尽", text="加徽信：18800442453 正规税票",
                                      headers=LIST_HEADERS),
}

HAM = {
    "petition": make_mail(subject="举报东岭村书记", text=(
        "举报东岭村党支部书记刘德福在低保评定中优亲厚友，他弟弟家有两台挖掘机还吃着低保。"
        "村里的账目三年没有公开。请巡察组派人调查。联系电话：13912345678")),
    "petition_with_commerce_words": make_mail(subject="反映镇干部公款吃喝", text=(
        "青山镇副镇长王某经常在镇上的饭店大吃大喝，饭店老板给他优惠，再开虚假发票"
        "拿到镇政府报销，每月上万元。饭店电话0731-12345678，老板微信同号。请纪委查处。")),
    "petition_html_only": make_mail(subject="实名反映", html_only=True, text=(
        "尊敬的巡察组领导：我是西坡村村民，村主任杨某把扶贫补贴发给了自己的亲戚，"
        "我们几户困难户一分钱也没拿到。")),
    "petition_flagged_upstream": make_mail(subject="举报", headers={"x-spam-flag": "YES"}, text=(
        "举报村委会主任挪用征地补偿款二十万元，村民多次上访没有结果，请求调查。")),
    "petition_on_a_list": make_mail(subject="关于拖欠工资的反映", headers=LIST_HEADERS, text=(
        "镇政府的工程拖欠工资半年了，干部说没钱，我们几十个工人过年回不了家。")),
    "photo_of_letter": make_mail(subject="", text="", attachments=PHOTO),
    "personal_reply": make_mail(subject="Re: 周末聚餐", in_reply_to="<x@example.cn>", text=(
        "好的，我周六有空。\n: 周末大家一起吃个饭吧？\n: 地点还没定，欢迎推荐。")),
    "test_submission": make_mail(subject="测试", text="测试一下这个平台能不能提交成功"),
    "question": make_mail(subject="请问", text=(
        "请问低保申请需要哪些材料？我妈今年七十八了，低保三月份停了，去哪里申请复核？")),
    "thanks": make_mail(subject="感谢信", text=(
        "尊敬的巡察组领导：去年冬天我家房子漏雨，杨主任第二天就带人来修好了，特意写信表扬她。")),
}


@pytest.mark.parametrize("name", sorted(SPAM))
def test_spam_is_marked_with_reasons(name: str) -> None:
    verdict = score_spam(SPAM[name])
    assert verdict.is_spam, verdict
    assert 0.6 <= verdict.score <= 1.0
    assert verdict.reasons


@pytest.mark.parametrize("name", sorted(HAM))
def test_genuine_mail_is_not_marked(name: str) -> None:
    verdict = score_spam(HAM[name])
    assert not verdict.is_spam, verdict
    assert 0.0 <= verdict.score < 0.6


@pytest.mark.parametrize(("mail", "reason"), [
    (SPAM["invoice"], "含推销用语：代开、同号、验证后付款、发票、优惠等"),
    (SPAM["invoice"], "主题含推销用语：代开、发票、优惠"),
    (SPAM["invoice"], "留有1个电话号码"),
    (SPAM["invoice"], "留有QQ或微信联系方式"),
    (SPAM["upstream_flag"], "上游邮件服务器已标记为垃圾邮件"),
    (SPAM["obfuscated"], "号码或文字中夹杂字母以规避过滤"),
    (SPAM["gambling"], "含3个链接"),
    (SPAM["training"], "群发或邮件列表标记"),
    (SPAM["training"], "多处价格或折扣"),
    (SPAM["html_image_ad"], "仅有HTML正文且几乎没有文字"),
    (SPAM["phishing"], "疑似骗取账户信息：账户、密码、验证、登录、停用"),
    (SPAM["english"], "内容几乎没有中文"),
    (SPAM["japanese"], "内容主要为日文"),
    (HAM["petition"], "含举报或反映类用语：举报、巡察、书记、低保、优亲厚友等"),
    (HAM["personal_reply"], "含引用原信的往来回复"),
])
def test_reasons_are_readable_chinese(mail: ParsedMail, reason: str) -> None:
    assert reason in score_spam(mail).reasons


def test_reasons_are_ordered_by_strength() -> None:
    verdict = score_spam(HAM["petition_flagged_upstream"])
    assert verdict.reasons[0].startswith("含举报或反映类用语")
    assert "上游邮件服务器已标记为垃圾邮件" in verdict.reasons


def test_threshold_is_the_callers() -> None:
    mail = SPAM["training"]
    score = score_spam(mail).score
    assert score_spam(mail, threshold=score).is_spam
    assert not score_spam(mail, threshold=min(1.0, score + 0.001)).is_spam


def test_works_on_parsed_mail() -> None:
    raw = (b"From: =?gb2312?B?zfXPyMn6?= <ad@example.cn>\nSubject: =?gb2312?B?tPq/qreixrE=?=\n"
           b"X-Spam-Flag: YES\nContent-Type: text/plain; charset=gb2312\n\n"
           + "本公司可代开各类发票，价格优惠，详情请电13800138000。".encode("gb2312"))
    verdict = score_spam(parse_mail(raw))
    assert verdict.is_spam
    assert verdict.reasons[0] == "上游邮件服务器已标记为垃圾邮件"


def test_empty_mail_is_not_spam() -> None:
    assert not score_spam(make_mail()).is_spam
