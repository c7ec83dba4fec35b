"""Organisational, work, mass and political conduct as citizens tell it (issue 15, recall).

One sentence per wording family added to routing_rules/disciplines.yaml, written for this
test (none comes from a fixture), plus sentences where the same words must not count.
"""

from __future__ import annotations

import pytest

from intake.classify import Classifier
from intake.round import parse_round
from intake.rules import load_rules

ROUND_YAML = """
round:
  name: 召回测试轮次
  team: 县委第五巡察组
  opens: 2026-05-06T08:00+08:00
  closes: 2026-06-12T17:30+08:00
inspected_unit:
  name: 中共梅岭镇委员会
  short: 梅岭镇党委
  level: township
  places: [梅岭镇, 梅岭]
  county: 长宁县
  subordinates: [竹园村, 石坝村]
scope:
  roles: [leadership, subordinate_head, key_post]
roster:
  - {name: 邱海涛, post: 镇党委书记, role: leadership}
  - {name: 方淑兰, post: 镇党委副书记、镇长, role: leadership}
  - {name: 江德旺, post: 竹园村党支部书记、村委会主任, role: subordinate_head, place: 竹园村}
  - {name: 车玉芬, post: 石坝村党支部书记, role: subordinate_head, place: 石坝村}
"""
CLF = Classifier(parse_round(ROUND_YAML), load_rules())


def labels(text: str) -> list[str]:
    return CLF.classify(text).disciplines


@pytest.mark.parametrize(("text", "discipline"), [
    # organizational: deciding alone, meetings that only announce, reports not made
    ("竹园村江书记一支笔说了算，村里二十万的开支签了就算。", "organizational"),
    ("石坝村车书记在村里是土皇帝，两委其他人都插不上话。", "organizational"),
    ("邱书记修桥的事从来不跟班子成员商量，自己就定了。", "organizational"),
    ("江书记卖村里老仓库没经过村民代表会讨论。", "organizational"),
    ("镇里那笔贷款是邱书记定好了才拿到会上走个程序的。", "organizational"),
    ("方镇长欠了几百万的外债，从来不向县委报告。", "organizational"),
    # organizational: votes in kind, ballots filled for others, picks without a vote
    ("换届前江书记挨家送去一桶油，说这次一定要选他。", "organizational"),
    ("石坝村选举那天，车书记的人拿着选票替别人代填。", "organizational"),
    ("竹园村的村民代表都是江书记指定的，没一个是选出来的。", "organizational"),
    ("方镇长在民主测评前找人打招呼，让大家给她打优秀。", "organizational"),
    # organizational: posts, files and members
    ("邱书记提拔的几个站长全是他老家那边的人。", "organizational"),
    ("车书记的外甥进了镇敬老院上班，既没有考试也没有公示。", "organizational"),
    ("方镇长的档案里参加工作时间改过，比实际早了五年。", "organizational"),
    ("江书记的本科文凭是花钱买的。", "organizational"),
    ("方镇长在县城的两处门面房，个人事项里都没有写。", "organizational"),
    ("车书记的儿子入党的材料是后来补的。", "organizational"),
    # organizational: reporters punished
    ("我向镇里反映了江书记的问题，没过几天我家的补助就被取消了。", "organizational"),
    ("江书记放话说，谁再告就别想在村里办事。", "organizational"),
    # work: figures, shows, meetings, duty, losses, sign-offs, leaks, meddling
    ("江书记让会计把村里的产值往高里报。", "work"),
    ("镇里的贫困户收入表是编出来的，没人入户核过。", "work"),
    ("检查的人一走，邱书记就让人把摆在路边的花全搬回去了。", "work"),
    ("镇里开会一个接一个，村干部天天往镇上跑。", "work"),
    ("方镇长转发县里的文件照抄照转，一个字不改。", "work"),
    ("防汛那晚值班室一个人都没有，带班的电话也打不通。", "work"),
    ("车书记一个月有半个月不在村里，村部整天关着门。", "work"),
    ("江书记上班时间在村部跟人斗地主。", "work"),
    ("邱书记没做任何论证就上马了那个冷库，现在一天都没用过。", "work"),
    ("方镇长验收水渠只看了一眼就签了字。", "work"),
    ("车书记把村民的投诉信拿给被投诉的人看了。", "work"),
    ("邱书记给评标的人打电话，指名要让一家公司中标。", "work"),
    ("江书记说修路讲了三年，一样都没办。", "work"),
    # mass: favour by closeness, cold shoulders, money held, fees, force, closed books
    ("石坝村的公益岗位车书记先照顾跟她走得近的人家。", "mass"),
    ("江书记办事只认关系，没关系的去了也白去。", "mass"),
    ("我去问补偿的事，方镇长态度特别凶，把我轰出了办公室。", "mass"),
    ("竹园村的征地补偿款到了账上，江书记压着不发。", "mass"),
    ("车书记用外出打工村民的名义领了好几年的补贴。", "mass"),
    ("救灾的大米江书记先拉回了自己家。", "mass"),
    ("江书记给每户办证收了五十块钱的工本费。", "mass"),
    ("村里修路不去出工的，江书记每天罚一百。", "mass"),
    ("邱书记带人推平了村民的菜地。", "mass"),
    ("竹园村的公开栏贴的还是好几年前的账，一直没更新。", "mass"),
    ("村里的账本锁在江书记自己家里，谁也看不到。", "mass"),
    # political: papers carried off, coaching, the inspection belittled, factions, faith
    ("巡察组要来了，车书记让人把报销单据装箱拉走了。", "political"),
    ("方镇长教被问话的干部怎么应付巡察组的谈话。", "political"),
    ("江书记在村民大会上说巡察就是走过场。", "political"),
    ("石坝村两委分成两派，车书记和主任各拉一帮人。", "political"),
    ("江书记是党员，每年都组织村里游神，还请风水先生选坟地。", "political"),
    ("邱书记参加了一个练功的群，还拉镇干部入会。", "political"),
])
def test_wording_families(text: str, discipline: str) -> None:
    assert discipline in labels(text)


@pytest.mark.parametrize("text", [
    "我奶奶今年九十，想申报高龄补贴，需要什么材料？",          # 申报高龄 is no 报高
    "县里的会议室一个月有半个月空着，能不能借给我们办培训？",    # nobody accused
    "请问巡察组的意见箱放在哪里，我想投一封信。",
])
def test_wording_that_accuses_nobody(text: str) -> None:
    assert not {"work", "mass", "organizational", "political"} & set(labels(text))
