"""Routes of out-of-scope items by each department's remit in the words citizens use
(routing_rules/routes.yaml, domain.md §5): one case per remit added for issue 15, written for
this test (not taken from any check set)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from intake.classify import Classifier
from intake.classify.default import default_model
from intake.classify.route_guess import RouteHead
from intake.classify.routing import Router
from intake.round import parse_round
from intake.rules import load_rules

ROUND = parse_round("""
round: {name: 测试轮次, team: 县委第二巡察组, opens: 2026-05-06T08:00+08:00,
        closes: 2026-06-12T17:30+08:00}
inspected_unit: {name: 中共柳河镇委员会, short: 柳河镇党委, level: township,
                 places: [柳河镇], county: 安平县, subordinates: [上湾村]}
scope: {roles: [leadership, subordinate_head, key_post]}
roster:
  - {name: 李明远, post: 镇党委书记, role: leadership}
""")
RULES = load_rules()
ROUTER = Router(RULES)
CLF = Classifier(ROUND, RULES)


@pytest.mark.parametrize(("text", "department"), [
    # A home not delivered on time, or a building in danger: the housing bureau.
    ("合同上写的年底交房，到现在拖了八个月，开发商一句解释都没有", "housing"),
    ("我们住的老楼楼体往一边歪了，想请人做个房屋安全鉴定", "housing"),
    # A food business's hygiene, ahead of the rubbish seen there.
    ("街口那家面馆的后厨苍蝇乱飞，碗筷就泡在脏水桶里", "market_regulation"),
    # Goods that fail as sold.
    ("在电器城买的洗衣机用了一周就坏了，店里拒不退换", "market_regulation"),
    # Residence papers are the police station's.
    ("孩子出生三个月了还没落户，派出所说材料不齐", "public_security"),
    # Public transport services.
    ("镇上到县城的班车一天只有两趟，错过了就回不了家", "transport"),
    # Noise and smells said plainly.
    ("隔壁酒吧每天放音乐到后半夜，严重扰民", "ecology_environment"),
    # Who is an employee, and a dismissal.
    ("平台说我们跑单的骑手不算员工，受伤了也不管", "human_resources"),
    ("店长说把我辞了就辞了，一分钱经济补偿都没有", "human_resources"),
    # Collective forest and its rights.
    ("我家的林权证和村里登记的林地面积对不上", "agriculture_rural"),
    # The body the writer asks to act.
    ("楼下新开的棋牌室每天人来人往到深夜，恳请公安机关依法查处", "public_security"),
    ("家里老人住的房子又潮又暗，恳请民政部门帮帮我们", "civil_affairs"),
    # A traffic accident and illegal fund-raising are the police's.
    ("我骑车在路口被一辆面包车撞伤了，司机开车跑了", "public_security"),
    ("有人打着养老项目的旗号非法集资，好几个老人的钱拿不回来", "public_security"),
    # Blocked drains, damaged rails, shared rentals.
    ("单元的污水管道又堵了，脏水从一楼地漏往外返", "housing"),
    ("国道边的护栏被撞倒了好久，一直没人来修", "transport"),
    ("对门把房子隔成六间群租，消防隐患很大", "housing"),
    # Funerals (also when the price is the complaint) and parcels.
    ("父亲去世了，殡仪馆的火化费和骨灰盒都贵得离谱", "civil_affairs"),
    ("快递驿站取件要收一块钱保管费", "market_regulation"),
    # Passing goods off is the market's; impersonating someone is the police's.
    ("超市把散装米冒充品牌米卖", "market_regulation"),
    ("有人冒充银行客服打电话让我转账", "public_security"),
    # A school place, ahead of the papers cited for it.
    ("我们在县城租房住，孩子想上公办小学，学校说要看父母的社保缴费记录", "education"),
    # Highways by their class, market days, estate agents.
    ("这段国道上的大坑半年没补，晚上开车很危险", "transport"),
    ("集贸市场里卖的鸡蛋一斤比别处贵了一块", "market_regulation"),
    ("房产中介收了我的定金，房子却早卖给别人了", "housing"),
    # Compensation for leaving, an injury at work.
    ("老板让我们自己辞职，辞职就一分补偿都没有", "human_resources"),
    ("在仓库搬货时被货架砸伤了腰，老板说我是临时工不管", "human_resources"),
    # A work injury on a building site is the labour bureau's, not the builders'.
    ("我哥在县城的工地上打工，从脚手架上摔下来受了伤，用人单位一直不给赔偿", "human_resources"),
])
def test_each_remit_routes_first_to_its_department(text: str, department: str) -> None:
    s = CLF.classify(text)
    assert not s.in_scope
    assert s.routes[0] == department
    # The words the rule read are the transfer's evidence, labelled with the department.
    basis = [e for e in s.evidence if e.label == department]
    assert basis and all(e.source == "route" and text[e.start:e.end] == e.text for e in basis)


@pytest.mark.parametrize("text", [
    "你好，测试。", "您好 测试", "在家动动手指就能赚钱，详情加微信",
])
def test_greetings_tests_and_ads_are_archived(text: str) -> None:
    assert CLF.classify(text).routes == ("none",)


@pytest.mark.parametrize("text", [
    "恭喜您在周年庆幸运抽奖中获得二等奖，请点击链接填写银行卡领取，过期作废",
    "高价回收名烟名酒、购物卡、虫草，上门回收，量大从优，欢迎来电",
    "我想表扬一下上湾村的王主任，下大雨那天是他挨家挨户把老人背出来的",
])
def test_prize_spam_and_praise_go_nowhere_first(text: str) -> None:
    s = CLF.classify(text)
    assert not s.in_scope and s.routes[0] == "none"


def test_an_appeal_to_a_platform_is_no_court_case() -> None:
    assert not any(m.rule.department == "political_legal"
                   for m in ROUTER.matches("外卖平台罚了我两百，申诉了也没用"))
    assert any(m.rule.department == "political_legal"
               for m in ROUTER.matches("判决生效两年了，我向法院申诉要求再审"))


def test_a_property_complaint_beside_an_accusation_is_copied_to_housing() -> None:
    both = CLF.classify("小区物业收了物业费不办事，电梯坏了一个月没人修；"
                        "李明远书记还收了物业老板两条烟。")
    assert both.in_scope and both.routes == ("accept", "housing")
    assert [(e.label, e.source) for e in both.evidence if e.source == "route"] == [
        ("housing", "route")]
    only = CLF.classify("李明远书记去年收了物业公司老板两条烟、一箱酒。")
    assert only.in_scope and only.routes == ("accept",)


def test_a_letter_with_several_matters_gets_each_body() -> None:
    s = CLF.classify("厂里拖欠我们两个月工资；厂子晚上还往河里偷排废水，鱼都死了。")
    assert not s.in_scope
    assert {"human_resources", "ecology_environment"} <= set(s.routes)


class _LayerOnly:
    """A statistical layer sure of a discipline the lexicon does not name."""

    version = "lr-20260101-000000-0000abcd"
    labels = ("work",)

    def probabilities(self, text: str) -> dict[str, float]:
        return {"work": 0.95}

    def clause_scores(self, text: str, label: str, spans: list[tuple[int, int]]) -> list[float]:
        return [0.5 for _ in spans]


def test_a_label_only_the_layer_proposes_is_no_charge_to_route() -> None:
    # Nobody identified and no word of wrongdoing: the matter decides, not the commission.
    s = Classifier(ROUND, RULES, _LayerOnly()).classify("菜市场的秤不准，买两斤少了三两")
    assert s.disciplines == ("work",)
    assert s.needs_review
    assert s.routes[0] == "market_regulation"
    assert "discipline_commission" not in s.routes


def test_a_route_guess_never_archives() -> None:
    model = default_model()
    assert model is not None
    layer = copy.copy(model.semantic)
    dim = layer.encoder.vectors.shape[1]
    # A head that always says `none`: the guess is dropped, the fallback stands for review.
    layer.route = RouteHead(["none", "housing"], np.zeros((2, dim)), np.array([5.0, 0.0]))
    archiving = copy.copy(model)
    archiving.semantic = layer
    s = Classifier(ROUND, RULES, archiving).classify("我想找个人好好说道说道这件事情")
    assert s.routes == (RULES.fallback,)
    assert s.needs_review


def test_a_layer_label_about_a_body_elsewhere_still_goes_to_the_commission() -> None:
    # A case notice's "县某局：" is an official body: the commission keeps it, also when only
    # the layer names the discipline, and the body's own instruction ("要求各…") is no appeal.
    s = Classifier(ROUND, RULES, _LayerOnly()).classify(
        "县统计局：为追求考核排名，层层下派填表任务，要求各市场监管所每日手工上报。")
    assert s.subject_role == "outside_official"
    assert s.routes[0] == "discipline_commission"
