"""Case-notice wording of the six disciplines (条例 chapters 6-11, the eight-point rules):
condensed notices written for these tests under a round of their own, read by the lexicon
alone. The measured sets are tests/fixtures/notice_check.jsonl (held out) and
notice_tuning.jsonl; see bench/classify_per_label.py."""

from __future__ import annotations

import pytest

from intake.classify import Classifier
from intake.classify.default import default_model
from intake.round import parse_round
from intake.rules import load_rules

ROUND = parse_round("""
round:
  name: 测试轮次（通报）
  team: 县委第三巡察组
  opens: 2026-09-01T08:00+08:00
  closes: 2026-10-10T17:30+08:00
inspected_unit:
  name: 中共梨花镇委员会
  short: 梨花镇党委
  level: township
  places: [梨花镇, 梨花]
  county: 泊云县
  subordinates: [枣林村, 泉水村]
scope:
  roles: [leadership, subordinate_head, key_post]
roster:
  - {name: 郝东升, post: 镇党委书记, role: leadership}
  - {name: 司马婷, post: 镇党委副书记、镇长, role: leadership}
  - {name: 钟启明, post: 镇财政所所长, role: key_post}
  - {name: 邬长河, post: 枣林村党支部书记、村委会主任, role: subordinate_head, place: 枣林村}
  - {name: 冀春兰, post: 泉水村村委会主任, role: subordinate_head, place: 泉水村}
""")
CLF = Classifier(ROUND, load_rules())


def labels(text: str) -> set[str]:
    return set(CLF.classify(text).disciplines)


@pytest.mark.parametrize(("text", "expected"), [
    # A notice naming several disciplines in one list names each of them.
    ("某县原县委书记某某，严重违反政治纪律、组织纪律、廉洁纪律和生活纪律，对抗组织审查，卖官鬻爵，"
     "收受巨额财物，与他人发生不正当性关系。",
     {"political", "organizational", "integrity", "life"}),
    ("梨花镇原镇长某某，违反党的工作纪律和群众纪律。", {"work", "mass"}),
    # 第六章: obstruction of review, faith.
    ("枣林村党支部书记某某，在纪律审查中向组织提供虚假情况，并包庇同案人员。", {"political"}),
    ("泉水村村委会主任某某，得知纪委调查后找多名证人串通，要求隐瞒其收钱事实。", {"political"}),
    ("梨花镇党委委员某某，在家中设置佛堂，并组织开光仪式。", {"political"}),
    # 第七章: personal-matter reports, files, hiring, members, talks.
    ("枣林村党支部书记某某，在个人有关事项报告中漏报其子经商办企业情况。", {"organizational"}),
    ("泉水村村委会主任某某，隐瞒入党前受过刑事处罚的情况，骗取党员身份。", {"organizational"}),
    ("梨花镇原副镇长某某，篡改个人档案，虚增工龄四年。", {"organizational"}),
    ("某县某局原局长某某，借机构改革之机突击进人，违规招录聘用人员十余名。",
     {"organizational"}),
    ("梨花镇人大主席某某，在组织函询时隐瞒事实，拒不说明其与企业老板的经济往来。",
     {"organizational"}),
    # 第八章: borrowed property, shares, off-book money, gifts sent, someone else paying.
    ("某县财政局原局长某某，违规借用管理服务对象房产长期居住。", {"integrity"}),
    ("泉水村村委会主任某某，违规在私营企业入股并获取分红。", {"integrity"}),
    ("枣林村村委会主任某某，违规私设小金库，集体收入账外存放。", {"integrity"}),
    ("梨花镇党委副书记某某，违规向上级机关有关人员赠送土特产礼品。", {"integrity"}),
    ("枣林村党支部书记某某，以其妻弟名义承接村内道路维修项目。", {"integrity"}),
    # 第九章: fees and deposits from villagers, force, money routed to kin.
    ("泉水村村委会主任某某，违规收取村民建房押金，拒不退还。", {"mass"}),
    ("某镇原党委书记某某，在村庄拆迁中违背群众意愿，搞强制拆迁。", {"mass"}),
    ("枣林村党支部书记某某，在为村民出具证明时收取辛苦费每户二百元。", {"mass"}),
    # 第十章: guarantees and loans, leaks, shelved cases, oversight, repeated reporting.
    ("梨花镇财政所所长某某，违规为企业提供担保，致使财政资金面临损失风险。", {"work"}),
    ("梨花镇组织委员某某，将干部考察中的谈话内容透露给被考察对象。", {"work"}),
    ("梨花镇纪委书记某某，对反映村干部问题的信访件压案不查、有案不办。", {"work"}),
    ("某县原县长某某，履行全面从严治党主体责任不力，对分管领域违纪问题失察失管。", {"work"}),
    ("梨花镇党委副书记某某，要求各村重复报送同类材料。", {"work"}),
    # 第十一章: family, duties, decency.
    ("泉水村村委会主任某某，长期对妻子实施家庭暴力。", {"life"}),
    ("梨花镇人大主席某某，对其配偶、子女失管失教。", {"life"}),
    ("枣林村村委会主任某某，拒不履行对未成年子女的抚养义务。", {"life"}),
    # Findings told as a story rather than in the regulation's words.
    ("梨花镇副镇长某某将其私家车加油费、维修费在镇政府报销。", {"integrity"}),
    ("枣林村党支部书记某某，通过微信多次接受承包人转账，名为借款，实为收受好处。",
     {"integrity"}),
    ("泉水村村委会主任某某，将村集体收取的土地承包费存入个人账户。", {"integrity"}),
    ("梨花镇党委副书记某某，对重大项目资金拨付先斩后奏，事后才通报其他班子成员。",
     {"organizational"}),
    ("梨花镇原镇长某某出国（境）未按规定履行审批手续。", {"organizational"}),
    ("泉水村村委会主任某某，在巡察组进驻期间，将村里的会议记录、财务凭证搬离办公室。",
     {"political"}),
    ("枣林村党支部书记某某，在水库移民扶持资金发放中将已外迁户的资金冒名领取。", {"mass"}),
    ("梨花镇原镇长某某，离任时未按规定办理工作交接。", {"work"}),
    ("泉水村村委会主任某某，酒后驾驶机动车，被公安机关查获。", {"life"}),
    # Posts without names, as village bulletins print them.
    ("副镇长在春节期间收受辖区两家企业所送的高档白酒和茶叶。", {"integrity"}),
    ("村委会主任要求村民先交建房保证金才予以签字。", {"mass"}),
    ("村党总支书记未经村民小组会议讨论，擅自决定集体资产的用途。", {"organizational"}),
    ("市某局原党组书记某某，在干部职工中搞亲疏远近，拉一派打一派。", {"political"}),
    ("县某局原局长某某，对下属单位违规问题长期视而不见，负有主要领导责任。", {"work"}),
])
def test_notice_wording(text: str, expected: set[str]) -> None:
    assert labels(text) == expected


@pytest.mark.parametrize(("text", "absent"), [
    # A passport held against the rules is no shareholding.
    ("梨花镇原副书记某某，违规持有因私护照，未按规定交由组织集中保管。", "integrity"),
    # Hiding a change of marriage or a forged age is about the person, not statistics.
    ("泉水村村委会主任某某，瞒报婚姻变化情况，未按规定向组织报告。", "work"),
    ("梨花镇原副镇长某某，篡改个人档案，虚增工龄四年。", "work"),
    # Public money taken by a cadre is not money due to villagers.
    ("某分行原副行长某某，安排下属通过虚构接待事项套取公款。", "mass"),
    # Teachers leaving a school is no loss caused by a decision.
    ("我们镇中学的老师这几年走了好多，造成师资流失，希望上级重视。", "work"),
    # Residents asking for the truth about a plan accuse nobody of obstruction.
    ("小区旁要建变电站，开发商隐瞒真相，请领导重视我们的诉求。", "political"),
    # Payments from a gambling den's owner are not the official's own gambling.
    ("派出所原所长多次收受辖区赌场老板所送现金。", "life"),
])
def test_notice_wording_keeps_precision(text: str, absent: str) -> None:
    assert absent not in labels(text)


def test_semantic_layer_speaks_only_where_the_lexicon_is_silent() -> None:
    """The shipped semantic layer adds no discipline beside the lexicon's own: on formal
    notices it mostly added wrong ones (a fee taken from villagers read as integrity too)."""
    model = default_model()
    if model is None:
        pytest.skip("no default semantic layer in this checkout")
    clf = Classifier(ROUND, load_rules(), model)
    for text in ("泉水村村委会主任某某，违规收取村民建房押金，拒不退还。",
                 "枣林村党支部书记某某，截留挪用农机购置补贴资金十余万元。"):
        got = clf.classify(text)
        assert got.disciplines == ("mass",)
        assert not any(e.source == "model" for e in got.evidence)
