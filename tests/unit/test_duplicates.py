"""Duplicate detection's pure part: normalising, shingles, MinHash/LSH, phrases, decisions."""

from __future__ import annotations

import random

import pytest

from intake import duplicates as d
from intake.round import load_round
from intake.settings import EXAMPLE_ROUND

LETTER = (
    "尊敬的巡察组领导：我是东岭村的村民，现实名举报。东岭村党支部书记刘德福利用职务便利，"
    "在2023年的危房改造项目中收取农户好处费5000元。刘德福把东岭村的低保名额给了自己的亲戚，"
    "7户真正困难的群众没有享受到。东岭村的财务账目已经3年没有公开，村民多次要求查账都被"
    "刘德福拒绝。希望巡察组调查核实，严肃查处。"
)
OTHER = (
    "南河村党总支书记马德才在换届选举前给党员送购物卡，每张面值800元。他还公车私用，周末开着"
    "镇里的公车接送孩子上学。群众对此意见很大，请巡察组核实。"
)
CONFUSABLE = dict(zip("己已未末土士日曰人入", "已己末未士土曰日入人", strict=True))


def ocr_copy(text: str, seed: int) -> str:
    """The letter as OCR might return it: confusable characters, drops, stray line breaks."""
    rng = random.Random(seed)
    out = []
    for ch in text:
        r = rng.random()
        if r < 0.02:
            continue
        out.append(CONFUSABLE.get(ch, "口") if r < 0.08 else ch)
        if rng.random() < 0.03:
            out.append("\n")
    return "".join(out)


def reordered(text: str) -> str:
    sentences = [s + "。" for s in text.split("。") if s]
    return "".join(reversed(sentences))


HOTLINE = (
    "来电人反映：东岭村党支部书记刘德福在2023年危房改造项目中收取农户好处费5000元，"
    "还把低保名额给了自己的亲戚，7户真正困难的群众没有享受到。来电人要求不公开其身份。"
)


@pytest.mark.parametrize(("text", "expected"), [
    ("东岭村  党支部书记，\n刘德福！", "东岭村党支部书记刘德福"),
    ("ＡＢＣ１２３ 万元", "abc123万元"),  # full width → ASCII, lower case
    ("“贪污”……5,000元？", "贪污5000元"),
    ("  \n\t", ""),
])
def test_normalise_drops_layout_and_punctuation(text: str, expected: str) -> None:
    assert d.normalise(text) == expected


def test_exact_hash_ignores_layout() -> None:
    a = d.fingerprint(LETTER)
    b = d.fingerprint(LETTER.replace("，", ",").replace("。", "。\n\n").replace("5000", "５０００"))
    assert a.sha256 == b.sha256 == d.text_hash(d.normalise(LETTER))
    assert len(a.sha256) == 64


def test_shingles_are_distinct_character_trigrams() -> None:
    keys = d.shingles("abcabc")
    assert len(keys) == 3  # abc, bca, cab
    assert len(d.shingles("ab")) == 0
    assert d.jaccard(d.shingles("abcd"), d.shingles("abcd")) == 1.0
    assert d.jaccard(d.shingles("abcd"), d.shingles("bcde")) == pytest.approx(1 / 3)
    assert d.jaccard(d.shingles("ab"), d.shingles("abcd")) == 0.0


@pytest.mark.parametrize("make", [
    lambda t: ocr_copy(t, 1), lambda t: ocr_copy(t, 2), reordered,
    lambda t: ocr_copy(reordered(t), 3),
], ids=["ocr-1", "ocr-2", "reordered", "reordered-ocr"])
def test_retyped_copies_are_near_and_share_a_band(make) -> None:
    original, copy = d.fingerprint(LETTER), d.fingerprint(make(LETTER))
    score = d.jaccard(original.shingles, copy.shingles)
    assert d.NEAR_THRESHOLD <= score < 1.0
    assert set(original.bands) & set(copy.bands)  # the index finds it
    match = d.compare(copy, LETTER)
    assert match is not None and match.reason == "near"
    assert match.evidence and all(e.startswith("共同内容") for e in match.evidence)


def test_minhash_estimates_jaccard() -> None:
    a, b = d.fingerprint(LETTER), d.fingerprint(ocr_copy(LETTER, 4))
    estimate = (d.minhash(a.shingles) == d.minhash(b.shingles)).mean()
    assert estimate == pytest.approx(d.jaccard(a.shingles, b.shingles), abs=0.15)


def test_stored_keys_never_change() -> None:
    # Keys are stored: they must not depend on Python's per-process string hashing, and a
    # change of hashing needs `backfill(rebuild=True)`. Pinned values catch that.
    assert d.person_key("刘德福") == -4641637809901087283
    assert d.band_keys(d.minhash(d.shingles("东岭村刘德福")))[:2] == (
        8382397471166906548, 2156189709275831790)
    assert all(-(2**63) <= k < 2**63 for _, k in d.fingerprint(LETTER, ["刘德福"]).rows())


def test_unrelated_reports_are_not_linked() -> None:
    a, b = d.fingerprint(LETTER), d.fingerprint(OTHER)
    assert d.jaccard(a.shingles, b.shingles) < 0.1
    assert not set(a.bands) & set(b.bands)
    assert d.compare(b, LETTER) is None


def test_exact_copy() -> None:
    match = d.compare(d.fingerprint(LETTER.replace("。", "。\n")), LETTER)
    assert match is not None and (match.reason, match.score) == ("exact", 1.0)


def test_short_texts_get_no_near_links() -> None:
    short = d.fingerprint("刘德福贪污低保款")
    assert short.bands == ()
    assert d.compare(short, "刘德福贪污低保金") is None
    assert d.compare(d.fingerprint("测试"), "测试") is None  # too short even to be exact
    assert [band for band, _ in short.rows()] == []


def test_shared_phrases_longest_first() -> None:
    a = d.normalise("他把低保名额给了自己的亲戚，还收了好处费五千元整。")
    b = d.normalise("听说他收了好处费五千元整，把低保名额给了亲戚。")
    assert d.shared_phrases(a, b) == ["收了好处费五千元整", "把低保名额给了"]
    assert d.shared_phrases(a, b, limit=1) == ["收了好处费五千元整"]
    assert d.shared_phrases(a, d.normalise("完全无关的一句话内容")) == []


def test_boilerplate_is_no_shared_fact() -> None:
    words = d.round_boilerplate(load_round(EXAMPLE_ROUND))
    a = d.mask(d.normalise("尊敬的巡察组领导：东岭村党支部书记刘德福作风霸道。"), words)
    b = d.mask(d.normalise("尊敬的巡察组领导：东岭村党支部书记刘德福收受礼金。"), words)
    assert d.shared_phrases(a, b) == []


def test_same_matter_needs_the_person_and_a_shared_fact() -> None:
    words = d.round_boilerplate(load_round(EXAMPLE_ROUND))
    hotline = d.fingerprint(HOTLINE, ["刘德福"], words)
    match = d.compare(hotline, LETTER, ["刘德福"])
    assert match is not None
    assert match.reason in ("near", "same_matter")
    # A different matter about the same person, sharing one specific fact (the amount).
    other = d.fingerprint("尊敬的巡察组：刘德福去年收了包工头送的5000元现金，还经常打麻将赌钱。",
                          ["刘德福"], words)
    match = d.compare(other, LETTER, ["刘德福"])
    assert match is not None and match.reason == "same_matter"
    assert match.evidence[0] == "均反映刘德福"
    assert "相同数额：5000元" in match.evidence
    # The same person, nothing else in common.
    unrelated = d.fingerprint("尊敬的巡察组：刘德福经常在上班时间打麻将赌钱，影响很坏。",
                              ["刘德福"], words)
    assert d.compare(unrelated, LETTER, ["刘德福"]) is None
    assert d.compare(other, LETTER, []) is None  # no shared person: no same_matter


def test_accused_reads_subjects_and_stored_dicts() -> None:
    from intake.classify import Subject

    subjects = [Subject("刘书记", "刘德福", "书记", "subordinate_head", 0.9),
                Subject("会计", "", "", "staff", 0.5)]
    assert d.accused(subjects) == ("刘德福",)
    assert d.accused([{"name": "刘德福"}, {"name": ""}, {"name": "刘德福"}]) == ("刘德福",)


def test_what_masking_left_is_no_shared_fact() -> None:
    # Two different matters about one person, each with a phone number masked: the
    # placeholder and the word before it are in both, and say nothing about the matter.
    a = d.fingerprint("刘德福把低保名额给了亲戚，我的联系电话［电话已隐去］。", ["刘德福"])
    other = "刘德福占用集体土地盖厂房，我的联系电话［电话已隐去］。"
    assert d.compare(a, other, ["刘德福"], near=False) is None
    # a real shared fact still links them
    same = "刘德福把低保名额给了亲戚，联系［电话已隐去］"
    match = d.compare(a, same, ["刘德福"], near=False)
    assert match is not None and match.reason == "same_matter"
