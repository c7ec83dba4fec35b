"""Explainable spam scoring for received e-mail: spam is marked, never dropped.

The score is a logistic sum of a few generic signals (upstream relay flags, bulk markers,
advertising vocabulary, contact details, links, prices, obfuscation, non-Chinese text) minus a
strong pull towards "not spam" for text that reads like a petition or tip-off about officials or
public matters. A false positive hides a real report from the default queue; a false negative only
costs a triager a click — so the petition pull is deliberately stronger than any spam signal
except an upstream relay's explicit verdict, and even that does not outweigh a clear petition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from intake.mailparse import ParsedMail

__all__ = ["SpamVerdict", "score_spam"]


@dataclass(frozen=True)
class SpamVerdict:
    score: float  # 0..1
    reasons: tuple[str, ...]  # short Chinese reasons for triage staff, strongest first
    is_spam: bool  # score >= threshold


# Advertising and commerce phrases common in Chinese spam, by weight (logit units). Generic words
# that also occur in genuine complaints (价格, 公司, 投资 …) weigh little on their own.
STRONG_SPAM_PHRASES = (
    "代开", "税票", "税点", "点数优惠", "博彩", "赌场", "六合彩", "刷单", "办证", "刻章", "中奖",
    "退订", "群发", "同号", "加V", "加微", "商祺", "货到付款", "壮阳", "丰胸", "包治", "无需抵押",
    "网站推广", "SEO", "seo", "日赚", "月入过万", "免费领取", "低价出售", "验证后付款",
    "查验后付款", "非诚勿扰", "收到这封邮件", "收到此邮件", "收到本邮件", "误收到", "随手删除",
    "不想再收到", "取消订阅", "秘方", "祖传", "疑难杂症",
)
MEDIUM_SPAM_PHRASES = (
    "发票", "优惠", "促销", "特价", "推广", "营销", "招商", "加盟", "培训班", "培训课程", "商机",
    "免费注册", "免费下载", "免费赠送", "点击这里", "点击进入", "点击查看", "立即购买", "订购",
    "欢迎来电", "来电咨询", "欢迎咨询", "贵公司", "贵司", "我司", "合作伙伴", "业务合作",
    "价格优势", "兼职", "贷款", "批发", "回报", "赚钱", "报关", "清关", "如有需要", "广告",
    "代理", "诚招", "独家代理", "厂家直销", "包邮", "折扣", "打折", "热线", "订阅", "优惠价",
    "为您推荐", "购物", "有奖", "抽奖", "主治", "根治", "特效", "患者",
)
WEAK_SPAM_PHRASES = (
    "价格", "免费", "合作", "投资", "代办", "咨询", "本公司", "有限公司", "产品", "客户",
)
# English spam vocabulary (matched case-insensitively on word boundaries).
ENGLISH_SPAM_PHRASES = (
    "unsubscribe", "click here", "buy now", "order now", "free", "viagra", "casino", "loan",
    "winner", "limited time", "discount", "special offer", "best price", "cheap", "investment",
    "bitcoin", "crypto", "lottery", "prize", "dear friend", "verify your account", "password",
)
# Account phishing.
PHISHING_PHRASES = (
    "账户", "帐户", "密码", "验证", "登录", "登陆", "停用", "冻结", "升级", "过期", "报备",
    "邮箱容量", "重新激活",
)

# Words of petitions and tip-offs about officials and public matters: the strong ones are rare in
# advertising; the weak ones (政府, 补贴, 领导 …) also turn up in spam, so they pull less.
STRONG_PETITION_WORDS = (
    "举报", "反映", "投诉", "信访", "上访", "巡察", "巡视", "纪委", "监委", "书记", "村主任",
    "村长", "支书", "村委", "居委", "镇长", "乡长", "县长", "区长", "市长", "省长", "厅长",
    "局长", "处长", "科长", "所长", "干部", "党员",
    "镇政府", "乡政府", "县政府", "贪污", "挪用", "受贿", "行贿", "索贿", "收受", "回扣",
    "低保", "扶贫", "违规", "违纪", "拖欠工资", "欠薪", "克扣", "侵占", "截留", "优亲厚友",
    "滥用职权", "以权谋私", "不作为", "吃拿卡要", "公款", "大吃大喝", "征地", "拆迁", "强拆",
    "宅基地", "村务", "账目", "虚报", "冒领", "查处", "请求调查", "恳请", "实名", "老百姓",
    "村民", "工程款",
)
WEAK_PETITION_WORDS = (
    "政府", "领导", "部门", "群众", "违法", "补贴", "补助", "救助", "拖欠", "核查", "请予",
    "社保", "医保", "污染", "请求", "希望", "严肃处理",
)

_FLAG_YES = re.compile(r"^\s*yes\b", re.IGNORECASE)
_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d(?:[ -]?\d){8}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])")
_OBFUSCATED_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9lIoO](?:-?[0-9lIoO]){9,11}(?![0-9A-Za-z])")
_SPACED_DIGITS = re.compile(r"(?:\d ){6,}\d")
_INTERLEAVED = re.compile(r"(?:[\u4e00-\u9fff][A-Za-z]){2,}[\u4e00-\u9fff]")
_CHAT_CONTACT = re.compile(
    r"QQ\s*[:：号]?\s*\d{5,}|(?:微信|威信|徽信|薇信|V信|[VvWw][Xx])\s*[:：号同]|加\s*[VvWw]",
    re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"'）)]+|www\.[A-Za-z0-9-]+\.[A-Za-z]{2,}", re.IGNORECASE)
_PRICE = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块钱|万元)|[￥¥]\s*\d+|\d+(?:\.\d+)?\s*%|%\s*\d+")
_QUOTED_LINE = re.compile(r"^(?:[:>]|【 在 .* 的大作中提到)", re.MULTILINE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LATIN = re.compile(r"[A-Za-z]")
_RANDOM_TOKEN = re.compile(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[a-z])[A-Za-z0-9]{10,}\b")
_CONTACT_NOISE = re.compile(r"[\s\d:：()（）+-]+|QQ|微信|[VvWw][Xx]|同号|联系|电话|手机")
_REPLY_SUBJECT = re.compile(r"\s*(?:\[[^\]]*\]\s*)?(?:re|回复|答复)\s*[:：]", re.IGNORECASE)
_LIST_FOOTER = re.compile(r"_{10,}\n.*?mailing list.*", re.IGNORECASE | re.DOTALL)

_PRIOR = -2.5


def _found(text: str, phrases: Iterable[str]) -> list[str]:
    return [phrase for phrase in phrases if phrase in text]


def _join(words: list[str], limit: int = 5) -> str:
    return "、".join(words[:limit]) + ("等" if len(words) > limit else "")


def score_spam(mail: ParsedMail, *, threshold: float = 0.6) -> SpamVerdict:
    """Score `mail` for spam with short Chinese reasons; never drops anything."""
    signals: list[tuple[float, str]] = []
    headers = {name.lower(): value for name, value in mail.headers.items()}
    subject = mail.subject
    body = _LIST_FOOTER.sub("", mail.text).strip()  # a list's own footer says nothing
    text = f"{subject}\n{body}"

    # An upstream relay's verdict.
    if _FLAG_YES.match(headers.get("x-spam-flag", "")) or _FLAG_YES.match(
            headers.get("x-spam-status", "")):
        signals.append((4.0, "上游邮件服务器已标记为垃圾邮件"))

    # Bulk and automatic mail.
    bulk = headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list")
    listed = any(name in headers for name in ("list-unsubscribe", "list-id", "list-post"))
    if bulk or listed:
        signals.append((0.5, "群发或邮件列表标记"))
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        signals.append((0.5, "自动发送的邮件"))

    # Vocabulary.
    strong = _found(text, STRONG_SPAM_PHRASES)
    medium = [p for p in _found(text, MEDIUM_SPAM_PHRASES) if not any(p in s for s in strong)]
    weak = [p for p in _found(text, WEAK_SPAM_PHRASES)
            if not any(p in s for s in (*strong, *medium))]
    english = [p for p in ENGLISH_SPAM_PHRASES
               if re.search(rf"\b{re.escape(p)}\b", text, re.IGNORECASE)]
    vocabulary = min(4.0, 1.5 * len(strong) + 0.8 * len(medium) + 0.3 * len(weak)
                     + 0.7 * len(english))
    if vocabulary:
        signals.append((vocabulary, f"含推销用语：{_join(strong + medium + english + weak)}"))
    reply = bool(_REPLY_SUBJECT.match(subject))
    in_subject = _found(subject, STRONG_SPAM_PHRASES) + _found(subject, MEDIUM_SPAM_PHRASES)
    if in_subject and not reply:  # a reply's subject is the original's, not the sender's pitch
        signals.append((min(1.5, 0.7 * len(in_subject)), f"主题含推销用语：{_join(in_subject)}"))
    phishing = _found(text, PHISHING_PHRASES)
    if len(phishing) >= 2:
        signals.append((min(3.0, 0.7 * len(phishing)), f"疑似骗取账户信息：{_join(phishing)}"))

    # Contact details, links, prices.
    numbers = {re.sub(r"\D", "", n) for n in _MOBILE.findall(text) + _LANDLINE.findall(text)}
    if numbers:
        signals.append((min(1.2, 0.4 * len(numbers)), f"留有{len(numbers)}个电话号码"))
    chat = bool(_CHAT_CONTACT.search(text))
    if chat:
        signals.append((0.8, "留有QQ或微信联系方式"))
    obfuscated = [n for n in _OBFUSCATED_NUMBER.findall(text)
                  if re.search(r"[lIoO]", n) and sum(ch.isdigit() for ch in n) >= 7]
    if obfuscated or _INTERLEAVED.search(subject) or _SPACED_DIGITS.search(text):
        signals.append((1.5, "号码或文字中夹杂字母以规避过滤"))
    links = len(set(_URL.findall(body)))
    if links:
        signals.append((0.3 if links < 3 else 0.8 if links < 5 else 1.2, f"含{links}个链接"))
    prices = len(_PRICE.findall(text))
    if prices >= 2:
        signals.append((0.5 if prices < 5 else 0.9, "多处价格或折扣"))

    # Form of the mail.
    cjk = len(_CJK.findall(text))
    short = len(body) < 20
    if mail.attachments:
        pass  # e.g. a photographed letter sent with an empty body: not a sign of spam
    elif mail.html_only and short:
        signals.append((2.5, "仅有HTML正文且几乎没有文字"))
    elif mail.html_only and len(body) < 200:
        signals.append((1.0, "仅有HTML正文且文字很少"))
    elif short:
        signals.append((0.5, "正文几乎为空"))
    if mail.html_only and len(body) >= 200:
        signals.append((0.3, "仅有HTML正文"))
    rest = _CONTACT_NOISE.sub("", body)
    if len(rest) < 30 and not mail.attachments and (numbers or chat):
        signals.append((1.0, "正文简短，主要是联系方式"))
    if len(_KANA.findall(text)) > max(10, cjk // 3):
        signals.append((3.0, "内容主要为日文"))
    elif len(_LATIN.findall(text)) > 40 and cjk * 10 < len(_LATIN.findall(text)):
        signals.append((1.2, "内容几乎没有中文"))
    if len(_RANDOM_TOKEN.findall(subject)) or len(_RANDOM_TOKEN.findall(body)) >= 3:
        signals.append((0.6, "含随机字符串"))

    # What speaks against spam.
    if len(_QUOTED_LINE.findall(body)) >= 2:
        signals.append((-0.8, "含引用原信的往来回复"))
    if reply:
        signals.append((-0.6, "主题是回复"))
    strong_petition = _found(text, STRONG_PETITION_WORDS)
    weak_petition = [w for w in _found(text, WEAK_PETITION_WORDS)
                     if not any(w in s for s in strong_petition)]
    if strong_petition or weak_petition:
        pull = min(8.0, 1.6 * len(strong_petition) + 0.6 * len(weak_petition))
        signals.append((-pull, f"含举报或反映类用语：{_join(strong_petition + weak_petition)}"))

    logit = _PRIOR + sum(weight for weight, _ in signals)
    score = round(1.0 / (1.0 + math.exp(-logit)), 3)
    reasons = tuple(reason for weight, reason in sorted(signals, key=lambda s: -abs(s[0])))
    return SpamVerdict(score=score, reasons=reasons, is_spam=score >= threshold)
