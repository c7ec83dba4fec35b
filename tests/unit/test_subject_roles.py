"""Who is accused and in which role, under a round of the 乡 kind the rules were not written for.

Each test states one general rule of `intake/classify/subjects.py` and `routing_rules/posts.yaml`
with sentences written for it (none is a row of a check or tuning file).
"""

from __future__ import annotations

import pytest

from intake.classify import Classifier
from intake.round import parse_round
from intake.rules import load_rules

ROUND_YAML = """
round:
  name: 测试轮次
  team: 县委第八巡察组
  opens: 2026-05-06T08:00+08:00
  closes: 2026-06-12T17:30+08:00
inspected_unit:
  name: 中共桐坪乡委员会
  short: 桐坪乡党委
  level: township
  places: [桐坪乡, 桐坪]
  county: 云溪县
  subordinates: [杉木村, 观音村, 桐坪社区]
scope:
  roles: [leadership, subordinate_head, key_post]
roster:
  - {name: 鲁国栋, post: 乡党委书记, role: leadership}
  - {name: 苗文华, post: 乡党委副书记、乡长, role: leadership}
  - {name: 戚玉兰, post: 乡党委副书记, role: leadership}
  - {name: 祝海生, post: 副乡长, role: leadership}
  - {name: 殷志远, post: 乡卫生院院长, role: key_post}
  - {name: 翁建国, post: 乡中心小学校长, role: key_post}
  - {name: 邝卫东, post: 乡财政所所长, role: key_post}
  - {name: 蓝德贵, post: 杉木村党支部书记、村委会主任, role: subordinate_head, place: 杉木村}
  - {name: 岑秀芝, post: 观音村党支部书记, role: subordinate_head, place: 观音村}
"""
CLF = Classifier(parse_round(ROUND_YAML), load_rules())


def run(text: str):
    return CLF.classify(text)


def role(text: str) -> str:
    return run(text).subject_role


@pytest.mark.parametrize("text", [
    "乡卫生院院长把院里的救护车开回老家办喜事。",
    "云溪县桐坪乡中心小学原校长把营养餐的钱挪去修了自己的房子。",
    "乡扶贫工作站站长验收时收了施工队的好处。",
    "乡农业服务中心原主任虚报了两百亩的种粮补贴。",
    "某某乡党政综合办公室主任用公款报销自家的电费。",
    "殷院长让医生们凑钱给他过生日。",  # a roster head by surname and title
    "所长开着所里的车天天去县城打牌。",  # a bare head of a station or office
])
def test_heads_of_the_township_institutions_are_key_posts(text: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("key_post", True)


@pytest.mark.parametrize("text", [
    "桐坪派出所的所长和开赌场的称兄道弟。",
    "县供电公司桐坪供电所原所长收了装表的好处费。",
    "信用社主任放贷款要吃回扣。",
    "县三中的校长逼学生交补课费。",
    "县中医院的院长收了医药代表的回扣。",
    "交警在路口罚款不开票。",
    "某县原扶贫办主任某某在扶贫资金分配中优亲厚友。",  # 原 between the county and its office
    "县政府办公室原副主任某某违规收受礼金。",
])
def test_county_bodies_placed_in_a_township_are_outside(text: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("outside_official", False)


@pytest.mark.parametrize("text", [
    "乡政府聘用人员收医保费的时候多收少交。",
    "乡党政办工作人员虚开发票报销。",
    "乡里管危房改造的工作人员要好处才给报。",
    "下村的干部每回都要村里杀鸡招待。",
    "民政办的小杨说要先请他吃饭才给盖章。",
    "我们组长把组里的荒坡租给了他表哥。",
    "乡政府的司机开公车去钓鱼。",
    "村民兵营长聚众赌博。",
    "村务监督委员会主任在假票据上签了字。",
    "社区居委会委员收了申请廉租房的人的钱。",
])
def test_staff_of_the_township_and_villages(text: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("staff", False)


@pytest.mark.parametrize(("text", "expected"), [
    # Not on the roster: the village's head in a village's context, the township's otherwise.
    ("朱书记把村里的救济粮分给了他亲戚。", "subordinate_head"),
    ("朱书记把乡里的工程都给了他小舅子。", "leadership"),
    ("观音村新来的朱书记收了红包。", "subordinate_head"),
    ("老钱主任收了我两千块钱才给我盖章。", "subordinate_head"),
    # A bare 书记 and 副书记 said of someone, by the same context.
    ("我们村的会计和书记是一伙的，村里的账从来不公开。", "subordinate_head"),
    ("反映副书记在乡里搞小圈子，不跟他的人都被穿小鞋。", "leadership"),
])
def test_titles_of_people_not_on_the_roster_take_their_setting(text: str,
                                                               expected: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == (expected, True)


def test_a_post_of_another_body_ending_in_shuji_is_not_a_bare_shuji() -> None:
    s = run("县委常委、政法委书记在会上骂了上访群众。")
    assert s.subject_role == "outside_official"


@pytest.mark.parametrize(("text", "name"), [
    ("老苗乡长上任以后，乡里的工程都是他一个人定。", "苗文华"),
    ("文华乡长对群众反映的塌方问题不管不问。", "苗文华"),
    ("祝副乡长批采伐证要收钱。", "祝海生"),
    ("戚副书记有情人，乡里的人都知道。", "戚玉兰"),
])
def test_forms_of_address_are_not_places(text: str, name: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("leadership", True)
    assert s.subjects[0].name == name


@pytest.mark.parametrize("text", [
    "我们乡的副乡长老是不在岗，听说在外面搞工程。",
    "老戴在征地的时候给自家亲戚多算了面积，他是副乡长，谁敢说。",
])
def test_words_before_a_post_are_not_another_place(text: str) -> None:
    assert role(text) == "leadership"


@pytest.mark.parametrize("text", [
    "隔壁石门镇的镇长收了砂场老板的钱。",
    "相邻的白塔乡副乡长把扶贫项目给了同学。",
])
def test_a_named_neighbouring_township_is_another_body(text: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("outside_official", False)


@pytest.mark.parametrize("text", [
    "我打了县长热线也没用，杉木村蓝德贵把村里的鱼塘租给了他自己的弟弟。",
    "之前给市长信箱写过信。观音村岑秀芝把低保给了她的妯娌。",
])
def test_a_channel_named_after_a_post_is_nobody_accused(text: str) -> None:
    s = run(text)
    assert (s.subject_role, s.in_scope) == ("subordinate_head", True)
    assert all(x.role != "outside_official" for x in s.subjects)


def test_a_relative_named_through_an_official_is_a_person_of_their_own() -> None:
    s = run("乡长的老婆在乡里开了家宾馆，乡里开会培训全住她家。")
    assert (s.subject_role, s.in_scope) == ("leadership", True)
    assert [(x.mention, x.role) for x in s.subjects][:2] == [("乡长", "leadership"),
                                                            ("老婆", "non_official")]


def test_an_official_whose_standing_is_traded_on_is_not_accused() -> None:
    s = run("他仗着乡长的名头在街上收保护费，还打伤了人。")
    assert not s.in_scope
    assert s.subject_role != "leadership"


def test_an_alias_in_brackets_and_a_masked_name_after_a_post_are_the_same_person() -> None:
    s = run("杉木村村委委员、妇女主任（村民叫她“江主任”）把亲戚的房子报成了危房。")
    assert (s.subject_role, s.in_scope) == ("staff", False)
    s = run("某某乡原党委书记陈某某违规收受工程老板礼金。")
    assert [x.role for x in s.subjects if x.role != "non_official" or "某" in x.mention] == [
        "leadership"]


def test_a_former_holder_is_not_the_current_roster_member() -> None:
    s = run("桐坪乡原党委书记违规收受购物卡。")
    assert (s.subject_role, s.in_scope) == ("leadership", True)
    assert s.subjects[0].name == ""  # not 鲁国栋, who holds the post now
    s = run("时任乡长在征地中违规决策。")
    assert s.subject_role == "leadership" and s.subjects[0].name == ""


def test_a_person_comes_before_an_office_mentioned_beside_them() -> None:
    s = run("来电人反映其儿子被观音村的治保主任打了，派出所只是调解。")
    assert s.subject_role == "staff"


def test_someone_unnamed_of_the_township_and_the_other_side_of_a_deal() -> None:
    s = run("乡里有领导收了养殖场老板的钱，养殖场臭了好几年没人管。")
    assert (s.subject_role, s.in_scope) == ("leadership", True)


def test_a_bare_village_director_offers_only_directors() -> None:
    # Kept from issue 15: candidates only when their post fits the words used.
    s = run("村主任把救灾的大米拉回了自己家。")
    assert s.subject_role == "subordinate_head"
    assert {c.name for c in s.candidates} == {"蓝德贵"}


@pytest.mark.parametrize(("text", "expected"), [
    ("我们村的支部书记把村里的山林租给了外地人，钱没进账。", "subordinate_head"),
    ("观音村的村官收了钱才给开证明。", "staff"),
    ("乡长助理收了包工头的钱。", "staff"),
    ("桐坪乡政府的会计挪用了公款。", "staff"),  # not a village's accountant on the roster
])
def test_more_posts_said_plainly(text: str, expected: str) -> None:
    assert role(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # Verbs before 乡 end no place name ("可以找乡人大…").
    ("可以找乡人大的人作证，岑书记在换届前送烟拉票。", "subordinate_head"),
    # 山 and 门 end many townships' names, though "山区" and "门市" are no places.
    ("青山镇的书记在我们乡占了一块地盖房。", "outside_official"),
    ("龙门乡的乡长收了砂场的钱。", "outside_official"),
    ("我们这里是山区，乡长收了修路的钱还不修路。", "leadership"),
])
def test_place_names_and_words_before_a_suffix(text: str, expected: str) -> None:
    assert role(text) == expected


def test_a_commission_reporting_a_case_is_not_the_accused() -> None:
    s = run("县纪委监委近日通报了某某乡党委书记何某某违规收受礼金问题。")
    assert (s.subject_role, s.in_scope) == ("leadership", True)
    # The masked name is not the roster's 鲁国栋, whatever the post says; the same surname
    # may be.
    assert s.subjects[0].name == ""
    assert run("某某乡党委书记鲁某某违规收受礼金。").subjects[0].name == "鲁国栋"


def test_someone_of_a_county_body_and_their_relative() -> None:
    s = run("县委的一个副书记的亲戚在我们乡包了好几个工程。")
    assert s.subject_role == "outside_official"


@pytest.mark.parametrize(("text", "expected"), [
    ("我是观音村的村民小组长，反映邻居占了集体的地盖房。", "non_official"),
    ("本人系杉木村村委委员，举报开发商非法占地。", "non_official"),
    ("我是村民小组长，反映村支书把低保给了亲戚。", "subordinate_head"),
    # A name the writer relates to is still the one complained about.
    ("我是蓝德贵的邻居，他把村里的钱拿去放了高利贷。", "subordinate_head"),
])
def test_the_writers_own_post_is_not_the_accused(text: str, expected: str) -> None:
    s = run(text)
    assert s.subject_role == expected
    assert all(x.role != "staff" for x in s.subjects)


@pytest.mark.parametrize(("text", "expected"), [
    ("某某村原党支部副书记违规收受礼金。", "staff"),
    ("某某村党支部原副书记、村委会原副主任违规收受礼金。", "staff"),
    ("某某村村委会原委员违规收受礼金。", "staff"),
    ("某某村民小组原组长违规收受礼金。", "staff"),
    ("某某乡四级主任科员违规收受礼金。", "staff"),
    ("某某乡综合行政执法队原队长违规收受礼金。", "key_post"),
    ("某某乡林业工作站原站长违规收受礼金。", "key_post"),
])
def test_case_notice_posts_with_former_and_ranks(text: str, expected: str) -> None:
    assert role(text) == expected


def test_a_township_institutions_party_secretary_is_no_villages() -> None:
    s = run("某某乡中心小学党支部书记违规收受礼金。")
    assert s.in_scope
    assert s.subjects[0].name == ""  # not 岑秀芝, 观音村's secretary


@pytest.mark.parametrize(("text", "expected"), [
    ("乡长秘书收了我的好处费。", "staff"),
    # A second post of the same person after 、 is not a bare head of the township's.
    ("县人民法院党组书记、院长：县人民法院多次超标准接待。", "outside_official"),
])
def test_workers_and_heads_of_schools_and_clinics(text: str, expected: str) -> None:
    assert role(text) == expected


@pytest.mark.parametrize(("text", "department"), [
    ("乡卫生院的医生看病态度差，乱开药。", "health"),
    ("学校的校长乱收资料费。", "education"),
])
def test_doctors_teachers_and_unnamed_school_heads_are_no_key_posts(text: str,
                                                                    department: str) -> None:
    # Their matters go to the bureaus unless the round's roster names the head.
    s = run(text)
    assert not s.in_scope and s.routes[0] == department


def test_a_letters_heading_is_its_addressee() -> None:
    s = run("巡察组同志：观音村岑秀芝在村里搞一言堂，村务从不公开。")
    assert [x.name for x in s.subjects] == ["岑秀芝"]


def test_the_rounds_roster_ranks_a_village_post_the_post_words_rank_otherwise() -> None:
    # This round names the villages' accountants as key posts.
    yaml = ROUND_YAML + """  - {name: 梅小燕, post: 杉木村会计, role: key_post, place: 杉木村}
  - {name: 欧阳红, post: 观音村会计, role: key_post, place: 观音村}
"""
    clf = Classifier(parse_round(yaml), load_rules())
    s = clf.classify("村会计把村里修路的钱借给了自己的弟弟。")
    assert (s.subject_role, s.in_scope) == ("key_post", True)
    assert {c.name for c in s.candidates} == {"梅小燕", "欧阳红"}
    # A round that names no accountant keeps the post words' role.
    assert CLF.classify("村会计把村里修路的钱借给了自己的弟弟。").subject_role == "staff"


def test_a_post_word_does_not_end_where_changqi_begins() -> None:
    s = run("高速收费站长期乱收费，过路的司机意见很大。")
    assert not s.in_scope and s.subject_role != "key_post"
    assert run("某某在担任乡长期间违规收受礼金。").subject_role == "leadership"
