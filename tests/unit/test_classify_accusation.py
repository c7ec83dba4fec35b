"""Scope from the accusation, a lexicon that generalises, routes with no default, and the
people listed on the triage page: golden cases written from domain.md's situations, under a
round of their own (a 乡, names unlike any other file)."""

from __future__ import annotations

import pytest

from intake.classify import Classifier
from intake.round import parse_round
from intake.rules import load_rules

ROUND = parse_round("""
round:
  name: 测试轮次（乡）
  team: 县委第四巡察组
  opens: 2026-05-06T08:00+08:00
  closes: 2026-06-12T17:30+08:00
inspected_unit:
  name: 中共石佛乡委员会
  short: 石佛乡党委
  level: township
  places: [石佛乡, 石佛]
  county: 宁远县
  subordinates: [桃园村, 柿子沟村, 河湾社区]
scope:
  roles: [leadership, subordinate_head, key_post]
roster:
  - {name: 范志成, post: 乡党委书记, role: leadership}
  - {name: 柯红, post: 乡党委副书记、乡长, role: leadership}
  - {name: 甘立平, post: 乡纪委书记, role: leadership}
  - {name: 屈文华, post: 乡财政所所长, role: key_post}
  - {name: 樊永贵, post: 桃园村党支部书记、村委会主任, role: subordinate_head, place: 桃园村}
  - {name: 左秀兰, post: 柿子沟村村委会主任, role: subordinate_head, place: 柿子沟村}
  - {name: 喻国富, post: 柿子沟村党支部书记, role: subordinate_head, place: 柿子沟村}
  - {name: 阮小梅, post: 桃园村会计, role: staff, place: 桃园村}
""")
CLF = Classifier(ROUND, load_rules())


def run(text: str, **kw):
    return CLF.classify(text, **kw)


# --- the lexicon's families: colloquial, misspelt, kin, contracts, pressure ------------

@pytest.mark.parametrize(("text", "role", "discipline"), [
    # Plain words for taking money.
    ("桃园村樊支书把去年修村道的钱贪了一大半，全村人都知道", "subordinate_head", "integrity"),
    # A misspelt key word ("底保") read as meant.
    ("柿子沟村左主任把底保名额给了她自己的亲弟弟", "subordinate_head", "mass"),
    # A relative's business.
    ("乡长柯红的老公开了个建材公司，乡里的几个项目都是他家供的货", "leadership", "integrity"),
    # A contract given to kin.
    ("樊永贵把村里的鱼塘直接包给了他小舅子，也没开村民代表会", "subordinate_head", "integrity"),
    # A relative's benefit.
    ("喻国富书记的侄子家里条件好得很，照样领着危房改造补助", "subordinate_head", "mass"),
    # Pressure on someone who reported.
    ("我向乡纪委反映了喻书记的问题，没几天他就带人找上门来骂我，还把我家的补助停了",
     "subordinate_head", "organizational"),
    # A job for kin without the exam.
    ("屈所长的外甥没参加考试就进了乡财政所上班", "key_post", "organizational"),
    # Plain words for a mistress.
    ("范书记在外面养了个女人，经常开着车去县城过夜", "leadership", "life"),
    # Meals charged to the village.
    ("左主任天天在饭店请客，吃喝的钱都记在村里账上", "subordinate_head", "integrity"),
    # Accounts never shown.
    ("桃园村的账这几年从不公布，樊永贵说了算", "subordinate_head", "mass"),
], ids=["colloquial", "misspelt", "kin-business", "kin-contract", "kin-benefit", "reprisal",
        "kin-job", "mistress", "meals", "accounts"])
def test_plain_words_for_conduct(text: str, role: str, discipline: str) -> None:
    s = run(text)
    assert s.in_scope
    assert s.subject_role == role
    assert discipline in s.disciplines
    assert s.routes[0] == "accept"


# --- case-notice wording of chapters 6-11 ---------------------------------------------

@pytest.mark.parametrize(("text", "discipline"), [
    ("乡纪委书记违反政治纪律，与他人串供，对抗组织审查", "political"),
    ("村党支部书记违反组织纪律，不按规定报告个人有关事项", "organizational"),
    ("乡党委书记违反中央八项规定精神，违规收受管理服务对象所送礼品", "integrity"),
    ("乡长违反群众纪律，在征地补偿工作中优亲厚友", "mass"),
    ("乡财政所所长违反工作纪律，违规干预插手工程项目", "work"),
    ("村委会主任违反生活纪律，与他人发生不正当性关系", "life"),
], ids=["political", "organizational", "integrity", "mass", "work", "life"])
def test_case_notice_wording(text: str, discipline: str) -> None:
    s = run(text)
    assert discipline in s.disciplines
    assert s.in_scope


# --- scope from the accusation --------------------------------------------------------

@pytest.mark.parametrize("text", [
    "桃园村樊永贵书记欺负老百姓，干的坏事多得很，要求巡察组严肃查处",
    "举报乡财政所屈所长的问题，他跟几个老板走得很近，请巡察组查一查",
])
def test_accused_of_nothing_named_is_in_scope_for_review(text: str) -> None:
    s = run(text)
    assert s.in_scope and s.routes[0] == "accept"
    assert s.needs_review
    assert s.disciplines == ()
    assert s.evidence  # the accusation itself is shown


@pytest.mark.parametrize(("text", "role"), [
    ("我家的低保今年没批下来，想问问还能不能重新申请", "unknown"),
    ("樊书记这个人从来没贪过一分钱，也没给亲戚办过低保，我就是想咨询宅基地怎么审批", None),
    ("喻书记帮我们村修好了路，特此写信表扬", None),
    ("宁远县交通局局长收了修路老板的钱", "outside_official"),
    ("桃园村会计阮小梅发补贴的时候每户扣了五十块", "staff"),
], ids=["claim", "denied", "praise", "outside", "staff"])
def test_not_accused_or_not_in_scope(text: str, role: str | None) -> None:
    s = run(text)
    assert not s.in_scope
    if role:
        assert s.subject_role == role


# --- routes ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "first"), [
    ("小区物业乱收停车费，业主意见很大", "housing"),
    ("街两边占道摆摊的越来越多，城管也不管", "housing"),
    ("楼下垃圾站好几天没人清运，臭得不行", "housing"),
    ("邻居私搭乱建，把过道都堵死了", "housing"),
    ("我有件事憋在心里很久了，一直没地方说", "petition_bureau"),
    ("能不能在我们乡多安排几趟去县城的班车", "transport"),
], ids=["property", "street-vendors", "rubbish", "shed", "nothing-matched", "request"])
def test_routes(text: str, first: str) -> None:
    s = run(text)
    assert not s.in_scope
    assert s.routes[0] == first


def test_nothing_matched_is_a_guess_for_review() -> None:
    s = run("我有件事憋在心里很久了，一直没地方说")
    assert s.routes == ("petition_bureau",) and s.needs_review
    assert "hotline_12345" not in s.routes


def test_mixed_letter_routes_every_part() -> None:
    s = run("樊书记克扣我家的拆迁补偿款，另外整个组的拆迁补偿标准也比邻村低一半")
    assert s.in_scope and s.routes[0] == "accept"
    assert "housing" in s.routes
    s = run("工地老板欠了我们两个月工资，工地晚上施工噪音也大得睡不着")
    assert {"human_resources", "ecology_environment"} <= set(s.routes)


# --- people on the triage page --------------------------------------------------------

def test_witness_is_not_complained_about() -> None:
    s = run("乡财政所屈所长收了老板的红包，当时范书记也在场")
    assert s.in_scope and s.subject_role == "key_post"
    assert [x.name for x in s.subjects if x.name] == ["屈文华"]


def test_businesses_are_not_people() -> None:
    s = run("樊永贵书记天天在“好再来饭店”吃喝，账都挂在村里，饭店老板说村里欠了好几万")
    assert s.in_scope
    mentions = [x.mention for x in s.subjects]
    assert not any("饭店" in m for m in mentions)
    assert s.subjects[0].name == "樊永贵"


def test_a_shop_still_gives_the_role() -> None:
    s = run("乡里街上的超市卖过期的牛奶，老板不给退")
    assert s.subject_role == "non_official"
    assert not any(x.mention.endswith("超市") for x in s.subjects)


def test_candidates_fit_the_post_named() -> None:
    s = run("村委会主任把集体的鱼塘低价租给了外村人")
    names = {c.name for c in s.candidates} | {x.name for x in s.subjects}
    # 樊永贵 is also 村委会主任; 喻国富 is only a branch secretary.
    assert {"左秀兰", "樊永贵"} <= names
    assert "喻国富" not in names


def test_form_category_shown_in_chinese() -> None:
    s = run("桃园村樊书记的事情请组织上核实一下", hints={"category": "mass"})
    form = [e for e in s.evidence if e.source == "form"]
    assert form and form[0].text == "群众纪律" and form[0].label == "mass"


# --- a text about a scope-role person is presumed a complaint --------------------------

def test_text_about_a_scope_person_is_presumed_a_complaint() -> None:
    s = run("桃园村樊永贵书记这几年的所作所为大家心里都有数，希望巡察组到村里走一走")
    assert s.in_scope and s.subject_role == "subordinate_head"
    assert s.needs_review and s.disciplines == ()


@pytest.mark.parametrize("text", [
    "请问桃园村樊书记每周几在村委会办公",
    "柿子沟村左主任对我们孤寡老人很照顾，特此表扬",
    "樊书记从来没拿过群众一分钱，这点村里人都清楚",
], ids=["question", "praise", "denial"])
def test_no_presumption_for_questions_praise_or_denials(text: str) -> None:
    assert not run(text).in_scope


# --- word classes that stand together in a sentence ------------------------------------

@pytest.mark.parametrize(("text", "discipline"), [
    ("樊永贵书记的小舅子这两年在村里承包了好几个工程", "integrity"),
    ("左主任把村里的危房改造指标偷偷留给了她娘家的亲戚", "mass"),
    ("喻书记换届前挨家挨户送了米和油，让大家到时候选他", "organizational"),
    ("巡察组进村前范书记召集村干部开会，交代好了怎么应付", "political"),
    ("屈所长上班时间经常在办公室打麻将", "work"),
    ("樊书记跟邻村一个有夫之妇经常在县城宾馆开房", "life"),
    ("喻书记拿着大家的征地补偿款在镇上饭馆请客", "integrity"),
    ("喻书记拿着大家的征地补偿款在镇上饭馆请客", "mass"),
], ids=["kin-contracts", "welfare-kin", "election-gifts", "inspection", "absent", "affair",
        "feast-on-compensation", "compensation-spent"])
def test_word_classes_together(text: str, discipline: str) -> None:
    s = run(text)
    assert discipline in s.disciplines
    assert s.in_scope


def test_denial_between_the_halves_of_a_pair() -> None:
    s = run("柿子沟村喻书记家的低保名额也没给过任何亲戚，我只是想问问怎么申请")
    assert "mass" not in s.disciplines
    assert any(e.status == "negated" for e in s.evidence)
    assert not s.in_scope


def test_an_official_who_only_answered_is_not_presumed_accused() -> None:
    s = run("我家的低保今年被取消了，柿子沟村喻书记说是县里大数据比对出来的，我家实在困难")
    assert not s.in_scope
    assert s.routes[0] == "civil_affairs"


@pytest.mark.parametrize(("text", "discipline"), [
    ("范书记开着几十万的车，戴着好几万的表", "life"),
    ("樊永贵在家里经常打老婆，全村都听得见", "life"),
    ("柯乡长光说不干，前任答应给村里修桥的钱她一概不认", "work"),
    ("桃园村的党员大会从来不开，会议记录都是樊书记后补的", "organizational"),
    ("左主任逼着我们签字拆房，补偿款一分没见着", "mass"),
], ids=["wealth", "violence-at-home", "formalism", "party-life", "forced"])
def test_everyday_words(text: str, discipline: str) -> None:
    s = run(text)
    assert discipline in s.disciplines
    assert s.in_scope


@pytest.mark.parametrize("text", [
    "各位领导：桃园村支书樊永贵把征地的八万块补偿款装进了自己口袋，还经常用村里的钱请客吃饭。",
    "我们村的书记樊永贵黑了大家的征地钱，八万多，还拿公家的钱下馆子",
], ids=["letter", "plain"])
def test_pocketed_compensation_and_feasts_are_accepted(text: str) -> None:
    # A roster secretary accused of pocketing villagers' compensation and feasting on the
    # village's money: in scope, never a transfer to another department.
    s = run(text)
    assert s.in_scope and s.routes[0] == "accept"
    assert {"mass", "integrity"} <= set(s.disciplines)


def test_complaint_about_the_team_itself_goes_to_the_level_above_first() -> None:
    s = run("我给巡察组打电话反映了情况，结果没两天村里就有人知道是我打的电话，"
            "接电话的那位同志泄露了我的名字")
    assert not s.in_scope
    assert s.routes[0] == "higher_commission"
