"""The keyword classifier, table-driven, and the `intake classify` contract."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from intake.classify import Classifier, classify
from intake.classify.command import run_classify
from intake.classify.metrics import balanced_accuracy, f1_scores, first_route_ok
from intake.round import parse_round
from intake.rules import load_rules

SHARED = Path(__file__).resolve().parents[2].parent / "shared"

# A round of our own (names unlike any development file) so tests depend on nothing outside.
ROUND_YAML = """
round:
  name: 测试轮次
  team: 县委第二巡察组
  opens: 2026-05-06T08:00+08:00
  closes: 2026-06-12T17:30+08:00
inspected_unit:
  name: 中共柳河镇委员会
  short: 柳河镇党委
  level: township
  places: [柳河镇, 柳河]
  county: 安平县
  subordinates: [上湾村, 下湾村, 桥头社区]
scope:
  roles: [leadership, subordinate_head, key_post]
roster:
  - {name: 李明远, post: 镇党委书记, role: leadership}
  - {name: 高文静, post: 镇党委副书记、镇长, role: leadership}
  - {name: 唐志诚, post: 镇纪委书记, role: leadership}
  - {name: 邓宏, post: 镇财政所所长, role: key_post}
  - {name: 王守义, post: 上湾村党支部书记、村委会主任, role: subordinate_head, place: 上湾村}
  - {name: 冯春燕, post: 下湾村村委会主任, role: subordinate_head, place: 下湾村}
  - {name: 罗小军, post: 桥头社区党委书记, role: subordinate_head, place: 桥头社区}
  - {name: 曹丽, post: 上湾村会计, role: staff, place: 上湾村}
"""
ROUND = parse_round(ROUND_YAML)
RULES = load_rules()
CLF = Classifier(ROUND, RULES)


def run(text: str, **kw):
    return CLF.classify(text, **kw)


# --- one case per discipline -----------------------------------------------------------

@pytest.mark.parametrize(("text", "discipline"), [
    ("柳河镇李书记在巡察组来之前让人把镇里几年的账本连夜拉走了，还让大家统一口径", "political"),
    ("上湾村王守义换届前挨家给党员送了两百块钱，让大家投他一票", "organizational"),
    ("镇长高文静过年收了好几个老板送的购物卡和礼金", "integrity"),
    ("下湾村冯春燕主任发放征地补偿款时每户克扣了三百元", "mass"),
    ("柳河镇李明远书记搞形式主义，要求各村每天填表留痕，层层加码", "work"),
    ("桥头社区罗小军书记和一名有夫之妇长期保持不正当关系", "life"),
], ids=["political", "organizational", "integrity", "mass", "work", "life"])
def test_each_discipline(text: str, discipline: str) -> None:
    s = run(text)
    assert discipline in s.disciplines
    assert s.in_scope
    assert s.routes[0] == "accept"
    ev = [e for e in s.evidence if e.label == discipline]
    assert ev and all(text[e.start:e.end] == e.text for e in ev)


# --- negation and hearsay ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "上湾村王书记从来没有收受过别人的礼金，大家都知道",
    "镇财政所邓所长并未收受红包，这点要说清楚",
])
def test_negated_evidence_does_not_count(text: str) -> None:
    s = run(text)
    assert s.disciplines == ()
    assert not s.in_scope
    assert any(e.status == "negated" for e in s.evidence)


@pytest.mark.parametrize("text", [
    "听说柳河镇李书记春节收了好多购物卡",
    "据说下湾村冯主任把低保给了她亲戚",
    "有人说下湾村冯主任把低保给了她亲戚",
])
def test_hearsay_is_hedged_but_counts(text: str) -> None:
    s = run(text)
    assert s.in_scope
    assert s.disciplines
    assert {e.status for e in s.evidence if e.source != "route"} == {"hedged"}
    assert s.needs_review


@pytest.mark.parametrize("text", [
    "我不敢留名字，怕被打击报复。",
    "担心遭到打击报复，只能匿名写这封信。",
])
def test_the_reporters_fear_alleges_nothing(text: str) -> None:
    s = run("柳河镇李明远书记的小舅子包了村里的修路工程。" + text)
    assert "organizational" not in s.disciplines
    assert "integrity" in s.disciplines
    assert [e.status for e in s.evidence if e.label == "organizational"] == ["negated"]


@pytest.mark.parametrize(("text", "discipline"), [
    ("柳河镇李明远书记的老婆在镇卫生院挂了个名，从不上班，工资照发。", "integrity"),
    ("上湾村王守义主任把村里的鱼塘租出去，租金一直没进村集体的账。", "mass"),
])
def test_wording_told_round_the_denial(text: str, discipline: str) -> None:
    s = run(text)
    assert s.in_scope and discipline in s.disciplines
    assert any(e.label == discipline and e.status == "asserted" for e in s.evidence)


@pytest.mark.parametrize("text", [
    "柳河镇李明远书记找到写信的人，软磨硬泡让人家把举报信要回来。",
    "李明远书记放话说，谁去巡察组告状就别想在镇上办成事。",
    "李明远书记挨个打电话交代，要是问到修桥的钱，就说全用在桥上了。",
    "李明远书记让人把村部的监控录像删了，怕巡察组看到。",
])
def test_keeping_people_from_reporting_is_political(text: str) -> None:
    s = run(text)
    assert s.in_scope and "political" in s.disciplines


def test_a_citizen_withdrawing_a_complaint_is_no_charge() -> None:
    assert "political" not in run("我想撤回上周的投诉，问题已经解决了。").disciplines


def test_a_report_by_someone_else_that_the_letter_denies_does_not_count() -> None:
    s = run("有人举报柳河镇李明远书记收了老板的红包，据我了解李明远书记没有收红包。")
    assert "integrity" not in s.disciplines


def test_a_rumour_the_letter_denies_does_not_count() -> None:
    s = run("之前有人说柳河镇李明远书记赌博，我可以确定他没有赌博，但他的小舅子包了镇里的工程。")
    assert "life" not in s.disciplines
    assert {e.status for e in s.evidence if e.label == "life"} == {"hedged", "negated"}
    assert "integrity" in s.disciplines


# --- roster variants, outside officials, non-officials -------------------------------

@pytest.mark.parametrize(("text", "name", "role"), [
    ("李书记上个月收了老板两万元红包", "李明远", "leadership"),
    ("老王主任把村里的集体鱼塘低价包给了他儿子", "王守义", "subordinate_head"),
    ("上湾村支书把低保名额给了自己亲戚", "王守义", "subordinate_head"),
    ("举报高文静利用职权为她弟弟承揽镇里的工程", "高文静", "leadership"),
    ("镇纪委书记把举报信的复印件给了被举报人", "唐志诚", "leadership"),
    ("邓所长办事要请吃饭才给盖章", "邓宏", "key_post"),
], ids=["surname-title", "lao-surname-title", "place-title", "full-name", "post-only",
        "key-post"])
def test_roster_variants(text: str, name: str, role: str) -> None:
    s = run(text)
    assert s.subject_role == role
    assert s.subjects[0].name == name
    assert s.in_scope


def test_outside_official_is_not_in_scope() -> None:
    s = run("安平县住建局局长收受开发商送的现金和购物卡")
    assert s.subject_role == "outside_official"
    assert not s.in_scope
    assert s.routes[0] in ("discipline_commission", "higher_commission")


def test_other_township_is_outside() -> None:
    s = run("我是石桥镇的，石桥镇党委书记给儿子办婚礼大操大办收礼金")
    assert s.subject_role == "outside_official"
    assert not s.in_scope


@pytest.mark.parametrize("text", [
    "邻县的一个镇长经常公车私用，周末开公车去钓鱼",
    "隔壁镇的副镇长收了老板两万块钱",
    "外县的一个村支书霸占村民的承包地",
    "县纪委书记收受工程老板的红包",
], ids=["neighbouring-county", "next-township", "other-county-village", "county-commission"])
def test_unnamed_other_place_makes_the_post_outside(text: str) -> None:
    s = run(text)
    assert s.subject_role == "outside_official"
    assert not s.in_scope


@pytest.mark.parametrize("text", [
    "县委书记的儿子在县城开了公司，县里的大工程都是他拿的",
    "副县长收了开发商的钱，帮他把地批下来了",
    "县纪委书记收受工程老板的红包",
])
def test_county_leaders_go_to_the_higher_commission_first(text: str) -> None:
    s = run(text)
    assert not s.in_scope
    assert s.routes[:2] == ("higher_commission", "discipline_commission")


def test_county_bureau_head_stays_with_the_county_commission() -> None:
    assert run("安平县水利局局长收受施工老板送的现金和购物卡").routes[0] == "discipline_commission"


@pytest.mark.parametrize("text", [
    "我在柳河镇安置房工地干了四个月，包工头欠我们二十多个人的工钱不给",
    "安置房项目拖欠农民工工资，开发商说房子没卖出去没钱",
])
def test_wages_owed_on_a_housing_site_go_to_human_resources(text: str) -> None:
    s = run(text)
    assert not s.in_scope
    assert s.routes[0] == "human_resources"


@pytest.mark.parametrize(("text", "role"), [
    # A verb before 镇/村 is not another place: the post stays the round's own.
    ("镇党委书记借口看病离岗一周，并带走镇财政所长和几名干部用公款旅游", "leadership"),
    ("村党支部书记明知不符合条件，仍安排村会计为亲戚出具低保证明", "subordinate_head"),
    ("来电人自称镇机关干部，反映镇党委书记搞一言堂，工程不招标", "leadership"),
    # A masked place ("某村") is not known to be elsewhere.
    ("该镇某村党支部书记把危房改造补助发给了自己的亲戚", "subordinate_head"),
], ids=["verb-before-town", "verb-before-village", "self-described", "masked-place"])
def test_words_before_a_place_suffix_are_not_places(text: str, role: str) -> None:
    s = run(text)
    assert s.subject_role == role
    assert s.in_scope


def test_staff_outside_scope_goes_to_commission() -> None:
    s = run("上湾村会计曹丽发补贴时给每户少发了两百元")
    assert s.subject_role == "staff"
    assert not s.in_scope
    assert s.routes[0] == "discipline_commission"


def test_non_official_wage_claim() -> None:
    s = run("来电人反映：柳河镇一家纸箱厂的老板欠我们工资四个月了，要求帮忙讨薪")
    assert s.subject_role == "non_official"
    assert not s.in_scope
    assert s.routes[0] == "human_resources"


def test_addressed_leader_is_not_a_subject() -> None:
    s = run("尊敬的李书记您好，我想问一下孩子上小学怎么报名")
    assert s.subject_role == "unknown"
    assert s.routes[0] == "education"


def test_mixed_letter_accepted_and_copied() -> None:
    s = run("桥头社区罗书记把改造工程直接交给他表哥的施工队，没有招标，现在还欠工人工资")
    assert s.in_scope
    assert s.routes[0] == "accept"
    assert "human_resources" in s.routes



def test_mixed_letter_copies_the_regulator_of_the_matter() -> None:
    s = run("桥头社区罗书记给他表弟的养猪场打招呼，粪水天天排进河里，谁也不敢管")
    assert s.in_scope
    assert s.routes[0] == "accept"
    assert "ecology_environment" in s.routes


def test_unit_staff_at_the_window_go_to_the_unit() -> None:
    s = run("镇政府办事大厅的办事员上班时间玩手机，让群众等了一个多小时")
    assert not s.in_scope
    assert s.routes[0] == "inspected_unit"

def test_ocr_spacing_is_tolerated() -> None:
    text = "下 湾 村 冯 主 任 克 扣 青 苗 补 偿 款"
    s = run(text)
    assert s.in_scope and "mass" in s.disciplines
    e = s.evidence[0]
    assert text[e.start:e.end] == e.text


def test_hints_identify_subject() -> None:
    s = run("他把村里的低保给了自己家亲戚", hints={"subject_name": "冯春燕"})
    assert s.subjects[0].name == "冯春燕"
    assert s.in_scope
    s = run("经常在工作时间打牌", hints={"subject_unit": "柳河镇人民政府",
                                        "subject_post": "副镇长", "category": "工作纪律"})
    assert s.subject_role == "leadership"
    assert "work" in s.disciplines


# --- out-of-scope service requests, one per department -------------------------------

@pytest.mark.parametrize(("text", "department"), [
    ("邻居家的狗把我孩子咬伤了，对方还动手打人", "public_security"),
    ("我们在工地干了半年，包工头欠工资不给", "human_resources"),
    ("借钱给亲戚打官司赢了，可法院判决一直执行不到", "political_legal"),
    ("有人在基本农田上违法用地盖仓库", "natural_resources"),
    ("两家为宅基地的地界吵了好几年", "agriculture_rural"),
    ("新买的商品房墙体开裂，开发商不管", "housing"),
    ("养鸭场的粪水直接排进水渠，污染严重", "ecology_environment"),
    ("超市卖的牛奶过期了还不给退", "market_regulation"),
    ("老人独居没人照顾，想申请临时救助", "civil_affairs"),
    ("孩子转学回来，学校说满员不让插班", "education"),
    ("镇卫生院的医生态度差，看病排队两个小时", "health"),
    ("住院费用医保报销不了，想问原因", "medical_insurance"),
    ("村道被大车压坏了，坑坑洼洼没人修", "transport"),
    ("夏天供水不足，楼上经常停水", "water_resources"),
    ("请问便民服务中心周末上班吗", "hotline_12345"),
])
def test_service_requests_route_by_department(text: str, department: str) -> None:
    s = run(text)
    assert not s.in_scope
    assert s.routes[0] == department


@pytest.mark.parametrize("text", ["", "   ", "测试一下", "代开发票 加V 88888",
                                  "网贷秒批无抵押，当天到账"])
def test_empty_and_spam_go_nowhere(text: str) -> None:
    s = run(text)
    assert s.routes == ("none",)
    assert not s.in_scope


def test_module_level_classify_and_contract_shape() -> None:
    s = classify("李书记收了购物卡", ROUND, RULES)
    assert s.model_version == "keywords-1"
    out = s.to_contract()
    # The contract's fields, extended (never changed) by the candidates staff may pick.
    assert set(out) == {"in_scope", "subject_role", "subjects", "disciplines", "routes",
                        "confidence", "needs_review", "evidence", "candidates"}
    assert 0.0 <= out["confidence"] <= 1.0


# --- the command --------------------------------------------------------------------

@pytest.fixture
def round_file(tmp_path: Path) -> Path:
    path = tmp_path / "round.yaml"
    path.write_text(ROUND_YAML, "utf-8")
    return path


def test_run_classify_contract(tmp_path: Path, round_file: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        json.dumps({"id": "1", "text": "下湾村冯主任克扣补偿款", "channel": "web"},
                   ensure_ascii=False),
        "{not json",
        json.dumps({"id": "3"}),
        json.dumps({"id": "4", "text": "请问社保卡在哪里补办"}, ensure_ascii=False),
    ]) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    assert run_classify(str(round_file), str(src), str(out)) == 0
    lines = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [x.get("id") for x in lines] == ["1", None, "3", "4"]
    assert lines[0]["in_scope"] is True and lines[0]["routes"][0] == "accept"
    assert "error" in lines[1] and "error" in lines[2]
    assert lines[3]["in_scope"] is False and lines[3]["routes"]
    assert "冯主任" in out.read_text("utf-8")  # ensure_ascii=False


def test_run_classify_stdin_stdout(round_file: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "x", "text": "李书记收红包"}\n'))
    assert run_classify(str(round_file), None, None) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["id"] == "x" and line["subject_role"] == "leadership"


def test_run_classify_invalid_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ROUND_YAML.replace("roles: [leadership, subordinate_head, key_post]",
                                      "roles: [mayor]"), "utf-8")
    assert run_classify(str(bad), None, None) == 2
    assert "scope.roles[0]" in capsys.readouterr().err


# --- metrics ------------------------------------------------------------------------

def test_metrics() -> None:
    assert balanced_accuracy([True, False, False], [True, False, True]) == pytest.approx(0.75)
    micro, macro = f1_scores([["mass"], ["work"]], [["mass"], []])
    assert micro == pytest.approx(2 / 3) and macro == pytest.approx(0.5)
    assert first_route_ok(["accept", "human_resources"], ["human_resources"])
    assert not first_route_ok(["accept"], ["human_resources"])


# --- development data (skipped when ../shared is absent) -----------------------------

@pytest.mark.skipif(not (SHARED / "data" / "complaints_dev.jsonl").exists(),
                    reason=f"development data not present at {SHARED}/data")
def test_dev_complaints_floor() -> None:
    from intake.classify.metrics import score
    from intake.round import load_round

    clf = Classifier(load_round(SHARED / "contracts" / "round.example.yaml"), RULES)
    rows = [json.loads(x) for x in
            (SHARED / "data" / "complaints_dev.jsonl").read_text("utf-8").splitlines() if x]
    s = score(rows, [clf.classify(r["text"]).to_contract() for r in rows])
    # Floors well under today's figures: they catch a broken lexicon, not small drift.
    assert s["in_scope_balanced_accuracy"] >= 0.8
    assert s["discipline_micro_f1"] >= 0.75


@pytest.mark.parametrize(("text", "first"), [
    # One conduct word, nobody named: the matter's department acts first.
    ("强烈要求湾田学校不要盲目改址，前期投资谁买单，这是决策失误", "education"),
    # Several charges, nobody named: a discipline complaint, the commission first.
    ("有人虚开发票套取公款，还收受供应商礼金，违规组织公款宴请", "discipline_commission"),
], ids=["one-word-topical", "several-charges"])
def test_unnamed_charges_route_by_their_weight(text: str, first: str) -> None:
    s = run(text)
    assert not s.in_scope
    assert s.routes[0] == first
    assert "discipline_commission" in s.routes


# --- who is accused: the context of a mention ------------------------------------------

@pytest.mark.parametrize(("text", "role"), [
    # A body someone was sent to is not the one complained about.
    ("老板欠了我们三个月工资一直不给，已建议其向县人社局劳动保障监察大队反映。", "non_official"),
    ("邻居把我推倒了，已建议他向派出所报案。", "non_official"),
    ("小区自来水发黄一整天，打供水公司电话说在检修。", "unknown"),
    # A private person on the other side of a deal is not the accused; the official is,
    # and a charge against nobody named, far from the round, is an official elsewhere.
    ("不正确履行职责，违规向私营企业出借巨额资金，造成不良影响。", "outside_official"),
    ("违规借用下属单位和其他单位车辆供个人长期使用。", "outside_official"),
    # A post right after another body is that body's, not the round's township's.
    ("国家某部评估督导司原党支部书记多次收受管理对象所送礼金。", "outside_official"),
    ("某能源股份有限公司原党委委员多次接受供应商安排的宴请。", "outside_official"),
    ("某省政协原党组成员、副主席收受礼金折合四十万元。", "outside_official"),
    ("某市粮食储备中心原主任某某套取财政补贴，收受贿赂。", "outside_official"),
    # A notice headed by a body of another level is about that body.
    ("市总工会：未经调研印发通知，层层加码，加重基层负担。", "outside_official"),
    # A masked private name ("卢某") is a private person; a mention "对此不知情" is not accused.
    ("我借给同村卢某六万元，有借条，他一直不还，法院判了也不执行。", "non_official"),
    ("上湾村村委委员在危房改造评定中把亲戚的房子报成危房，书记和村主任对此不知情。", "staff"),
    # Still the round's own: a charge naming its places keeps "unknown" when nobody is named.
    ("柳河镇有人把低保名额给了自己亲戚。", "unknown"),
])
def test_mention_context_decides_the_accused(text: str, role: str) -> None:
    assert run(text).subject_role == role


def test_word_before_community_is_not_a_place() -> None:
    # "去年是社区胡书记" once read "年是社区" as another place, making 胡书记 an outsider.
    s = run("这个工程去年是社区罗书记直接交给他表哥的施工队的，没看到公示。")
    assert s.subject_role == "subordinate_head"
    assert s.in_scope


@pytest.mark.parametrize(("text", "discipline"), [
    ("新当选的上湾村党支部书记宴请包村干部和参加选举的党员。", "organizational"),
    ("党员在推荐会投票前当众承诺，无论谁当选都会给参会人员发工夫钱。", "organizational"),
    ("上湾村书记未履行规定程序，擅自将组里的土地租给他人十八年。", "organizational"),
    ("上湾村主任冒领本村全迁户、死亡户的粮食直补款。", "mass"),
    ("下湾村书记安排会计出具证明，致其亲戚违规领取临时救助金2100元。", "mass"),
    ("上湾村书记擅自将村集体的鱼塘租给自己的亲戚。", "mass"),
])
def test_conduct_across_long_gaps(text: str, discipline: str) -> None:
    assert discipline in run(text).disciplines


# --- roster names as they sound, and candidates -----------------------------------------

@pytest.mark.parametrize(("text", "name"), [
    ("上湾村的王守易把低保名额给了自己亲戚。", "王守义"),      # homophone given name
    ("镇里的李明元书记收了老板送的购物卡。", "李明远"),        # homophone
    ("下湾村主任冯春言把危房改造名额给了亲戚。", "冯春燕"),    # same syllable, another character
    ("镇纪委书记唐志成收了礼金。", "唐志诚"),                  # cheng/chen folded
    ("财政所邓洪所长收了好处费。", "邓宏"),                    # two characters + title
])
def test_homophone_roster_names(text: str, name: str) -> None:
    s = run(text)
    assert s.subjects and s.subjects[0].name == name
    assert s.subjects[0].score < 1.0  # shown as a sound match, not an exact one


@pytest.mark.parametrize("text", [
    "周围的人都说有人收了红包。",      # "邓宏" must not match words that merely sound alike
    "李明天去镇上开会。",              # not a homophone of 李明远
])
def test_sound_matching_needs_the_whole_name(text: str) -> None:
    assert not any(s.name for s in run(text).subjects)


def test_unresolved_post_offers_roster_candidates() -> None:
    s = run("村支书把低保名额给了自己亲戚。")
    assert s.subject_role == "subordinate_head"
    names = {c.name for c in s.candidates}
    # Only posts that fit "村支书": a village branch secretary, not a village director or a
    # community secretary.
    assert names == {"王守义"}
    assert "candidates" in s.to_contract()
    # Named with the place, it resolves and leaves nothing to pick.
    assert not run("上湾村支书把低保名额给了自己亲戚。").candidates


@pytest.mark.parametrize("text", [
    "邻居老王的手艺很好，王守的义子收受了开发商的红包。",  # filler and two characters off
    "老冯的菜被人偷了，春燕说要报警。",
    "罗小的军大衣被偷了。",
])
def test_words_that_merely_sound_like_a_name_are_nobody(text: str) -> None:
    assert not any(s.name for s in run(text).subjects)


def test_sound_match_as_main_subject_needs_review() -> None:
    s = run("镇里的李明元书记收了老板送的购物卡。")
    assert s.in_scope and s.needs_review


@pytest.mark.parametrize(("text", "role"), [
    # A letter's heading is its addressee or its writer's unit, never the accused.
    ("我是县医院的护士 县人民医院：我反映小区物业乱收费。", "non_official"),
    ("尊敬的县住建局：开发商欠我们工钱两年了。", "non_official"),
    # A charge against nobody named but with local words stays the round's unknown person.
    ("有干部收受红包，大家都知道。", "unknown"),
    # A bare "书记" is a person: a village's with no township word near it.
    ("书记收受红包。", "subordinate_head"),
])
def test_headings_and_unnamed_charges(text: str, role: str) -> None:
    assert run(text).subject_role == role


def test_set_phrase_with_a_hedge_word_is_asserted() -> None:
    s = run("市里某局长多次收受可能影响公正执行公务的礼品礼金。")
    assert {e.status for e in s.evidence if e.label == "integrity"} == {"asserted"}
