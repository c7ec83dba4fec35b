"""Duplicate detection (`intake.duplicates`): threshold tuning on synthetic copies, and speed.

    .venv/bin/python bench/duplicates.py [--items 100000] [--new 300] [--pairs 400] [--seed 5]

Part 1, pure: generates synthetic reports (an opening, three to five fact sentences about one
person of the example round's roster or an outsider, with amounts, places and years, a closing)
and for each one a set of re-typed copies:

- ocr: confusable characters swapped (己/已, 未/末, 土/士, …) in ~6% of characters, ~2%
  dropped, line breaks and spaces inserted, punctuation switched between full and half width;
- reordered: the fact sentences shuffled, another opening and closing;
- hotline: a duty officer's retelling — "来电人反映", about 70% of the facts, first person
  turned to third, a few words replaced by synonyms, no opening or closing;
- letter: the hotline retelling's source letter through OCR and reordered at once.

It prints the Jaccard distribution of each kind against its original, and of unrelated pairs
(two independent reports, often about the same person and village), the near-link recall and
false-positive rate at several thresholds, and how often the LSH bands make a pair a candidate.

Part 2, storage: opens a Desk on a fresh SQLite data folder, bulk-loads --items synthetic items
of the round with their signatures (computed by `fingerprint`, as `ingest` would), then times
the duplicate step for --new further items, one transaction each (rolled back, so N stays
fixed): the pure `fingerprint` and the database part `db_record` separately, median and p95.
Half the new items are copies of stored items, so links are written too.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from intake import duplicates as d
from intake.desk import open_desk
from intake.round import load_round
from intake.settings import EXAMPLE_ROUND, Settings
from intake.store import models as m
from intake.store.db import begin_write

ROSTER = [("李建国", "镇党委书记"), ("王海涛", "镇长"), ("郑国平", "镇财政所所长"),
          ("刘德福", "东岭村党支部书记"), ("黄春生", "西坡村党支部书记"),
          ("马德才", "南河村党总支书记"), ("林小燕", "东岭村会计"), ("何建军", "南河村村民小组长")]
OUTSIDERS = [("张大勇", "村民小组长"), ("钱有才", "包工头"), ("陈小龙", "村文书")]
PLACES = ["东岭村", "西坡村", "南河村", "北山社区", "青山镇"]
FACTS = [
    "{who}利用职务便利，在{year}年的危房改造项目中收取农户好处费{amount}元。",
    "{name}把{place}的低保名额给了自己的亲戚，{count}户真正困难的群众没有享受到。",
    "{place}的集体土地{area}亩被{name}私自租给外地老板，租金{amount}元去向不明。",
    "{name}的儿子承包了{place}的道路硬化工程，工程质量很差，刚修好半年就开裂了。",
    "{name}经常在工作日中午饮酒，还用公款报销烟酒费用{amount}元。",
    "{place}的财务账目已经{count}年没有公开，村民多次要求查账都被{name}拒绝。",
    "{name}在换届选举前给党员送购物卡，每张面值{amount}元。",
    "扶贫产业资金{amount}元被挪用于修建{name}亲戚家门前的水泥路。",
    "{name}对群众态度恶劣，办事推诿拖延，我们办个证明要跑好几趟。",
    "{place}的征地补偿款{amount}元至今没有发到农户手中，{name}说是被镇里扣了。",
    "{name}违规为不符合条件的{count}名人员办理了养老保险，其中有他的小舅子。",
    "{name}公车私用，周末开着镇里的公车接送孩子上学，{year}年一年加油费就报了{amount}元。",
    "{year}年{place}修建文化广场，{name}指定自己的表弟施工，没有经过招标。",
    "{name}在{place}违规占用耕地{area}亩建了一栋三层别墅。",
    "村里的光伏发电收益{amount}元没有分给村民，{name}说用于村里开支，但账上查不到。",
    "我们多次向{name}反映{place}饮水困难的问题，{count}年过去了一直没有解决。",
]
OPENINGS = ["尊敬的巡察组领导：", "巡察组的同志你好，", "我是{place}的村民，现实名举报。",
            "我要反映{place}的问题。", ""]
CLOSINGS = ["希望巡察组调查核实，严肃查处。", "以上情况属实，请巡察组调查处理。", "此致敬礼！",
            "恳请巡察组还群众一个公道。", ""]
CONFUSABLE = dict(zip("己已未末土士日曰人入天夭干千贝见刀力王玉大太0O1l",
                      "已己末未士土曰日入人夭天千干见贝力刀玉王太大O0l1", strict=True))
SYNONYMS = [("好处费", "好处"), ("群众", "老百姓"), ("没有", "未"), ("私自", "擅自"),
            ("至今", "到现在"), ("经常", "常常"), ("我们", "村民"), ("违规", "不按规定")]
PUNCT = str.maketrans("，。：！", ",.:!")


class Report:
    def __init__(self, rng: random.Random) -> None:
        self.person = rng.choice(ROSTER if rng.random() < 0.8 else OUTSIDERS)
        self.place = rng.choice(PLACES)
        name, post = self.person
        self.facts = []
        for template in rng.sample(FACTS, rng.randint(3, 5)):
            self.facts.append(template.format(
                who=post + name, name=name if self.facts else post + name, place=self.place,
                year=rng.choice([2021, 2022, 2023, 2024, 2025]),
                amount=rng.choice([3000, 5000, 8000, 12000, 26000, 38000, 150000]),
                count=rng.randint(2, 12), area=rng.choice([5, 12, 30, 80])))
        self.opening = rng.choice(OPENINGS).format(place=self.place)
        self.closing = rng.choice(CLOSINGS)

    def text(self, facts: list[str] | None = None, opening: str | None = None,
             closing: str | None = None) -> str:
        return "".join([self.opening if opening is None else opening,
                        *(self.facts if facts is None else facts),
                        self.closing if closing is None else closing])


def ocr(text: str, rng: random.Random) -> str:
    out = []
    for ch in text:
        r = rng.random()
        if r < 0.02:
            continue
        if r < 0.08:
            ch = CONFUSABLE.get(ch, rng.choice("口日目十一二") if rng.random() < 0.3 else ch)
        out.append(ch)
        if rng.random() < 0.03:
            out.append(rng.choice(["\n", " ", "  "]))
    return "".join(out).translate(PUNCT) if rng.random() < 0.5 else "".join(out)


def reordered(rep: Report, rng: random.Random) -> str:
    facts = rep.facts[:]
    rng.shuffle(facts)
    return rep.text(facts, rng.choice(OPENINGS).format(place=rep.place), rng.choice(CLOSINGS))


def hotline(rep: Report, rng: random.Random) -> str:
    keep = [f for f in rep.facts if rng.random() < 0.7] or rep.facts[:1]
    text = "来电人反映：" + "".join(keep)
    for a, b in SYNONYMS:
        if rng.random() < 0.6:
            text = text.replace(a, b)
    return text.replace("我", "来电人") + "来电人要求不公开其身份。"


KINDS = {
    "ocr": lambda rep, rng: ocr(rep.text(), rng),
    "reordered": reordered,
    "hotline": hotline,
    "letter": lambda rep, rng: ocr(reordered(rep, rng), rng),
}


def quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=20)
    return (f"min {min(values):.2f}  p5 {q[0]:.2f}  median {statistics.median(values):.2f}  "
            f"p95 {q[-1]:.2f}  max {max(values):.2f}")


def shares_band(a: d.Fingerprint, b: d.Fingerprint) -> bool:
    return bool(set(a.bands) & set(b.bands))


def tune(pairs: int, rng: random.Random) -> None:
    print(f"== Part 1: {pairs} synthetic reports, each with every kind of copy ==")
    words = d.round_boilerplate(load_round(EXAMPLE_ROUND))
    scores: dict[str, list[float]] = {k: [] for k in (*KINDS, "unrelated")}
    banded: dict[str, int] = dict.fromkeys(scores, 0)
    reasons: dict[str, Counter[str]] = {k: Counter() for k in scores}
    for _ in range(pairs):
        rep = Report(rng)
        original = d.fingerprint(rep.text(), [rep.person[0]], words)
        others = {kind: (make(rep, rng), rep) for kind, make in KINDS.items()}
        unrelated = Report(rng)
        others["unrelated"] = (unrelated.text(), unrelated)
        for kind, (text, source) in others.items():
            fp = d.fingerprint(text)
            scores[kind].append(d.jaccard(original.shingles, fp.shingles))
            banded[kind] += shares_band(original, fp)
            # compare() from the copy's side, as ingest would (the copy is the newer item).
            shared = [rep.person[0]] if source.person == rep.person else []
            newer = d.fingerprint(text, [source.person[0]], words)
            match = d.compare(newer, rep.text(), shared)
            reasons[kind][match.reason if match else "none"] += 1
    print("Jaccard of 3-gram sets against the original:")
    for kind, values in scores.items():
        print(f"  {kind:10} {quantiles(values)}")
    print("near-link recall (copies) and false-positive rate (unrelated) by threshold:")
    copies = [s for k in KINDS for s in scores[k]]
    for threshold in (0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8):
        per_kind = "  ".join(f"{k} {sum(s >= threshold for s in scores[k]) / pairs:.2f}"
                             for k in KINDS)
        recall = sum(s >= threshold for s in copies) / len(copies)
        fp_rate = sum(s >= threshold for s in scores["unrelated"]) / pairs
        mark = "  <- NEAR_THRESHOLD" if threshold == d.NEAR_THRESHOLD else ""
        print(f"  {threshold:.2f}: recall {recall:.3f} ({per_kind})  "
              f"unrelated linked {fp_rate:.3f}{mark}")
    linked = [s for s in copies if s >= d.NEAR_THRESHOLD]
    total_fp = sum(s >= d.NEAR_THRESHOLD for s in scores["unrelated"])
    print(f"  precision at {d.NEAR_THRESHOLD} with one unrelated pair per copy: "
          f"{len(linked) / max(1, len(linked) + total_fp):.3f}")
    print(f"LSH ({d.BANDS} bands x {d.ROWS} rows): share of pairs that become candidates:")
    print("  " + "  ".join(f"{k} {v / pairs:.3f}" for k, v in banded.items()))
    print("links compare() makes (roster person known for both; unrelated pairs often share")
    print("the person and, the templates being few, a fact sentence: then same_matter is right):")
    for kind, counts in reasons.items():
        print(f"  {kind:10} " + "  ".join(f"{r} {n / pairs:.3f}" for r, n in counts.most_common()))


def load(items: int, new: int, rng: random.Random) -> None:
    print(f"\n== Part 2: duplicate step with {items} stored items (SQLite) ==")
    with tempfile.TemporaryDirectory() as tmp:
        desk = open_desk(Settings(data_dir=Path(tmp)))
        words = d.round_boilerplate(desk.round)
        base = datetime(2026, 3, 10, tzinfo=UTC)
        reports = []
        started = time.perf_counter()
        with desk.sessions() as session:
            begin_write(session)
            for start in range(0, items, 5000):
                batch = [Report(rng) for _ in range(min(5000, items - start))]
                reports += batch
                texts = [r.text() for r in batch]
                session.execute(insert(m.Submission), [{
                    "id": start + i + 1, "round_id": desk.round_id, "channel": "web",
                    "received_at": base + timedelta(seconds=start + i), "text": text,
                    "code_lookup": f"bench{start + i}", "secret_hash": "x",
                } for i, text in enumerate(texts)])
                session.execute(insert(m.TextSignature), [
                    {"submission_id": start + i + 1, "band": band, "hash": key}
                    for i, (r, text) in enumerate(zip(batch, texts, strict=True))
                    for band, key in d.fingerprint(text, [r.person[0]], words).rows()])
            session.commit()
        print(f"loaded in {time.perf_counter() - started:.1f} s")
        pure, db, links = [], [], 0
        for i in range(new):
            rep = rng.choice(reports) if i % 2 else Report(rng)
            text = KINDS[rng.choice(list(KINDS))](rep, rng)
            t0 = time.perf_counter()
            fp = d.fingerprint(text, [rep.person[0]], words)
            t1 = time.perf_counter()
            with desk.sessions() as session:
                begin_write(session)
                row = m.Submission(round_id=desk.round_id, channel="hotline", received_at=base,
                                   text=text, code_lookup=f"new{i}", secret_hash="x")
                session.add(row)
                session.flush()
                t2 = time.perf_counter()
                links += len(d.db_record(session, row, fp))
                t3 = time.perf_counter()
                session.rollback()
            pure.append((t1 - t0) * 1000)
            db.append((t3 - t2) * 1000)
        for name, values in (("fingerprint (pure)", pure), ("db_record", db),
                             ("total", [a + b for a, b in zip(pure, db, strict=True)])):
            q = statistics.quantiles(values, n=20)
            print(f"  {name:20} median {statistics.median(values):.2f} ms  p95 {q[-1]:.2f} ms")
        print(f"  {links} links written for {new} new items (half are copies of stored items)")
        desk.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    tune(args.pairs, rng)
    if args.items:
        load(args.items, args.new, rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
