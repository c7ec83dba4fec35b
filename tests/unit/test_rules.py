"""Routing rules: every rule has a golden case; broken files name the file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from intake.classify.command import run_rules_check
from intake.classify.routing import Router
from intake.rules import RulesError, check_rules, default_directory, load_rules

RULES = load_rules()
ROUTER = Router(RULES)

# rule id → (text written for this test, department the rule must contribute)
GOLDEN = {
    "spam_ads": ("发票代开各类 加V咨询 诚信经营", "none"),
    "test_submission": ("测试一下平台好不好用", "none"),
    "thanks": ("这是一封感谢信，谢谢社区的同志帮我们修好了路灯", "none"),
    "inspection_team_itself": ("我打电话给巡察组说了情况，没过两天巡察组就有人把我名字泄露出去了",
                               "higher_commission"),
    "appointments": ("单位去年提拔的两个副科长都没有经过民主推荐", "organization_dept"),
    "wage_arrears": ("装修公司欠我们三个月工资，一直找不到负责人", "human_resources"),
    "labour_and_insurance": ("公司一直没给我们交社保，也不签劳动合同", "human_resources"),
    "litigation": ("我的离婚案子法院判了两年还执行不到", "political_legal"),
    "crime_and_order": ("有人冒充客服打电话诈骗，我被骗走了三千元", "public_security"),
    "land_and_planning": ("开发区有人非法占地建厂房，占用耕地十几亩", "natural_resources"),
    "homestead_and_farming": ("我家的宅基地证丢了，想补办一份", "agriculture_rural"),
    "property_management": ("物业公司擅自涨了停车费，业主都不同意", "housing"),
    "property_complaint": ("我们小区的物业收了钱不办事，楼道灯坏了半年", "housing"),
    "urban_management": ("菜市场门口的垃圾堆了一个星期没人清运，环卫工人也不来", "housing"),
    "demolition_compensation": ("我家老房子拆迁补偿一直没谈拢，按什么标准算也没人说清楚",
                                "housing"),
    "housing_and_construction": ("小区物业把电梯停了半个月也不修", "housing"),
    "pollution": ("河边的化工厂夜里偷排废水，鱼都死了", "ecology_environment"),
    "market_and_consumers": ("菜市场里有摊位卖过期的鸡蛋，还缺斤短两", "market_regulation"),
    "relief_claims": ("我母亲一个人生活，想申请低保不知道找谁", "civil_affairs"),
    "schools": ("孩子上幼儿园的学位太紧张，报名排不上", "education"),
    "medical_care": ("乡卫生院晚上没有医生值班，看病只能去县里", "health"),
    "medical_insurance": ("我父亲住院报销的医保比例比别人低", "medical_insurance"),
    "roads_and_transport": ("去县城的班车一天只有一趟，坐车太难", "transport"),
    "water": ("我们组的自来水三天两头停水，水质也浑浊", "water_resources"),
    "unit_staff_service": ("镇便民服务中心窗口的工作人员态度很差，办个证让我跑了三趟",
                           "inspected_unit"),
    "discipline_request": ("请纪委查一查这个部门的不作为", "discipline_commission"),
    "petitions": ("这件事我已经上访三次了，多次反映无果", "petition_bureau"),
    "consultations": ("请问办理居住证需要带什么材料？", "hotline_12345"),
    "housing_delivery": ("开发商说好去年交房，一直推迟到现在", "housing"),
    "food_hygiene": ("那家小吃店的操作台上苍蝇乱飞，卫生太差", "market_regulation"),
    "product_quality": ("网上卖的电饭煲是翻新的，商家拒不退货", "market_regulation"),
    "household_registration": ("孩子的户口迁不过来，派出所让回老家开证明", "public_security"),
    "public_transport": ("早上七点的公交车经常不来，上班都迟到", "transport"),
    "funerals": ("殡仪馆的骨灰寄存费一年涨了一倍", "civil_affairs"),
    "couriers": ("快递网点不送货上门，还要我们自己去取", "market_regulation"),
    "school_places": ("今年划片把我们小区划到了很远的学校", "education"),
    "ask_public_security": ("恳请公安机关尽快破案", "public_security"),
    "ask_human_resources": ("希望劳动监察部门帮我们讨个公道", "human_resources"),
    "ask_housing": ("请住建部门督促整改", "housing"),
    "ask_education": ("希望教育主管部门出面管一管", "education"),
    "ask_transport": ("恳请交通运输部门尽快修复", "transport"),
    "ask_ecology": ("请环保部门来测一测", "ecology_environment"),
    "ask_market": ("希望市场监管部门依法查处", "market_regulation"),
    "ask_health": ("请卫健委给个说法", "health"),
    "ask_medical_insurance": ("请医保部门核查", "medical_insurance"),
    "ask_natural_resources": ("请自然资源部门到现场看看", "natural_resources"),
    "ask_agriculture": ("希望农业农村局帮忙鉴定", "agriculture_rural"),
    "ask_water": ("请水利部门帮我们想想办法", "water_resources"),
    "ask_civil_affairs": ("恳请民政局帮我们申请救助", "civil_affairs"),
}


def test_every_rule_has_a_golden_case() -> None:
    assert {r.id for r in RULES.routes if r.kind != "accused"} == set(GOLDEN)


@pytest.mark.parametrize(("post", "departments"), [
    ("县委书记", ["higher_commission"]), ("副县长", ["higher_commission"]),
    ("市纪委书记", ["higher_commission"]), ("县水利局局长", []), ("县长热线", []),
    ("我就此向区长", []),
])
def test_accused_rules_read_the_post(post: str, departments: list[str]) -> None:
    assert ROUTER.accused_routes(post) == departments


@pytest.mark.parametrize(("rule_id", "text", "department"),
                         [(k, t, d) for k, (t, d) in GOLDEN.items()], ids=list(GOLDEN))
def test_golden_case(rule_id: str, text: str, department: str) -> None:
    matched = {m.rule.id: m.rule.department for m in ROUTER.matches(text)}
    assert matched.get(rule_id) == department


def test_departments_cover_domain_codes() -> None:
    for code in ("accept", "none", "discipline_commission", "higher_commission",
                 "inspected_unit", "organization_dept", "political_legal", "public_security",
                 "human_resources", "natural_resources", "agriculture_rural", "housing",
                 "ecology_environment", "market_regulation", "civil_affairs", "education",
                 "health", "medical_insurance", "transport", "water_resources",
                 "hotline_12345", "petition_bureau"):
        assert RULES.departments[code]


def test_shipped_rules_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_rules() == []
    assert run_rules_check(None) == 0
    assert capsys.readouterr().out.strip() == "OK"


def _broken_copy(tmp_path: Path, file: str, change) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(default_directory(), target)
    doc = yaml.safe_load((target / file).read_text("utf-8"))
    change(doc)
    (target / file).write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return target


@pytest.mark.parametrize(("file", "change", "field"), [
    ("routes.yaml", lambda d: d["rules"][1].update(department="no_such_dept"),
     "rules[1].department"),
    ("routes.yaml", lambda d: d["rules"][2].update(priority="high"), "rules[2].priority"),
    ("routes.yaml", lambda d: d["rules"][0]["patterns"].append("(unclosed"),
     "rules[0].patterns"),
    ("disciplines.yaml", lambda d: d["disciplines"]["mass"].pop("patterns"),
     "disciplines.mass"),
    ("posts.yaml", lambda d: d["posts"][0].update(role="mayor"), "posts[0].role"),
    ("departments.yaml", lambda d: d["departments"].pop("none"), "departments"),
], ids=["unknown-department", "priority-type", "bad-regex", "missing-patterns", "bad-role",
        "missing-code"])
def test_broken_file_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          file: str, change, field: str) -> None:
    directory = _broken_copy(tmp_path, file, change)
    with pytest.raises(RulesError) as info:
        load_rules(directory)
    assert info.value.file == file
    assert info.value.field.startswith(field)
    assert run_rules_check(str(directory)) == 2
    err = capsys.readouterr().err
    assert file in err and field in err


def test_missing_file_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "rules"
    shutil.copytree(default_directory(), target)
    (target / "posts.yaml").unlink()
    problems = check_rules(target)
    assert problems and problems[0].startswith("posts.yaml")
