"""Masking identity in text and names: the patterns, their checksums, what stays."""

from __future__ import annotations

import pytest

from intake.masking import (
    ADDRESS,
    BANK_CARD,
    EMAIL,
    ID_NUMBER,
    NAME,
    PHONE,
    download_name,
    luhn_ok,
    mask_json,
    mask_text,
    shown_name,
    valid_id_number,
)
from intake.protect import Identity

VALID_ID = "110101199003071233"  # check character computed by GB 11643
VALID_ID_X = "11010519491231002X"


@pytest.mark.parametrize("number", [VALID_ID, VALID_ID_X, VALID_ID_X.lower(), "440306198512120018"])
def test_valid_id_numbers(number: str) -> None:
    assert valid_id_number(number)


@pytest.mark.parametrize(
    "number", ["110101199003071234", "11010519491231002", "1101011990030712X3"])
def test_invalid_id_numbers(number: str) -> None:
    assert not valid_id_number(number)


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("6222021234567890128")
    assert not luhn_ok("4111111111111112") and not luhn_ok("")


@pytest.mark.parametrize("written", [
    "13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "+8613912345678",
    "0086-13912345678", "(+86)13912345678", "１３９１２３４５６７８", "１３９－１２３４－５６７８",
    "139.1234.5678", "139·1234·5678",
    "0731-84567890", "(010)62345678", "（０１０）６２３４５６７８", "010 6234 5678", "07318456789",
])
def test_phone_numbers_in_every_form(written: str) -> None:
    masked = mask_text(f"我的电话是{written}，请联系。")
    assert masked == f"我的电话是{PHONE}，请联系。"


def test_local_number_given_as_a_phone() -> None:
    assert mask_text("联系电话：5551234") == f"联系电话：{PHONE}"
    assert mask_text("QQ：123456789，微信号 wxid_abc123").count("［账号已隐去］") == 2


@pytest.mark.parametrize("written, placeholder", [
    (VALID_ID, ID_NUMBER), (VALID_ID_X, ID_NUMBER), ("110105 19491231 002X", ID_NUMBER),
    ("１１０１０１１９９００３０７１２３３", ID_NUMBER),
    ("4111111111111111", BANK_CARD), ("6222 0212 3456 7890 128", BANK_CARD),
    ("6222-0212-3456-7890-128", BANK_CARD),
    ("zhang.san@163.com", EMAIL), ("ＺＨＡＮＧ＠１６３．ｃｏｍ", EMAIL),
])
def test_identity_numbers_and_addresses(written: str, placeholder: str) -> None:
    assert mask_text(f"号码{written}。") == f"号码{placeholder}。"


@pytest.mark.parametrize("text", [
    "他收了80000元，又收了1380000元",
    "2023年5月12日，20230512，2026-03-10",
    "案号（2023）湘0102民初1234号",
    "打过12345、12388、12380 和 110，也打过 12345 热线电话12345",
    "房子面积120平方米，补偿款 3500000 元",
    "110101199003071234",  # 18 digits, wrong check character: not an ID number
    "4111111111111112",  # 16 digits failing Luhn: not a card
    "第3组18号",
    "补偿标准13.5万元，版本1.3.912345678，139123456789",
])
def test_numbers_that_identify_nobody_stay(text: str) -> None:
    assert mask_text(text) == text


def test_declared_identity_wherever_it_appears() -> None:
    identity = Identity(name="欧阳明远", phone="139 1234 5678", id_number="110101199003071234",
                        email="oy@example.cn", display_name="Ouyang M",
                        address="青山镇东岭村三组十八号")
    text = ("我叫欧阳明远（欧阳 明远），身份证110101199003071234，手机13912345678，"
            "邮箱 OY@example.cn，住青山镇东岭村三组十八号。Ouyang M 敬上")
    masked = mask_text(text, identity)
    assert masked == (f"我叫{NAME}（{NAME}），身份证{ID_NUMBER}，手机{PHONE}，邮箱 {EMAIL}，"
                      f"住{ADDRESS}。{NAME} 敬上")
    assert mask_text(masked, identity) == masked  # idempotent


def test_short_declared_values_are_not_masked_everywhere() -> None:
    # A one-character name or a bare village name would hide half the report.
    identity = Identity(name="王", address="东岭村")
    text = "东岭村王书记收钱"
    assert mask_text(text, identity) == text


def test_anonymous_text_is_masked_by_pattern() -> None:
    assert mask_text("匿名，有事打13912345678") == f"匿名，有事打{PHONE}"


def test_mask_json_reaches_nested_strings() -> None:
    value = [{"text": "电话13912345678", "score": 0.5}, "张三说"]
    assert mask_json(value, Identity(name="张三")) == [
        {"text": f"电话{PHONE}", "score": 0.5}, f"{NAME}说"]


def test_shown_names() -> None:
    assert shown_name(1, "image/jpeg") == "附件1.jpg"
    assert shown_name(2, "application/pdf") == "附件2.pdf"
    assert shown_name(3, "application/vnd.openxmlformats-officedocument.wordprocessingml"
                         ".document") == "附件3.docx"
    assert shown_name(4, "") == "附件4"


def test_download_names_follow_the_sniffed_type_without_bidi() -> None:
    assert download_name("poly.html", "image/png") == "poly.png"
    assert download_name("\u202egnp.exe\u200b", "image/png") == "gnp.png"
    assert download_name("附件1.jpg", "image/jpeg") == "附件1.jpg"
