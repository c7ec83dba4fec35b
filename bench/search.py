"""Full-text search (intake.search) at a million items: a queue page with `q`, on SQLite and
PostgreSQL, and what the index costs on write.

    .venv/bin/python bench/search.py [--rows 1000000] [--runs 20] [--backend sqlite|postgresql|both]
                                     [--cache /tmp/intake-bench-search] [--rebuild]

The items are built once into --cache and reused by later runs (--rebuild starts afresh):
SQLite in CACHE/sqlite/intake.db; PostgreSQL in a cluster of its own, CACHE/pg (initdb
--no-locale, like the test cluster), started on a local port for the run and stopped after.
Texts are generated, never taken from ../shared: complaint sentences assembled from a
vocabulary of places, posts, misconduct and filler, with invented names (a surname and one or
two given characters), of varied length (a short call log of 30 characters to a letter of 600;
median about 110), a title on a third of them, and reporter or team messages on a tenth.
Channels, statuses, disciplines (labels) and received times (over 40 days) are spread like the
queue benchmark's. Search rows are computed with the service's own functions
(intake.search.body_of / grams_of) and loaded in bulk.

Each query runs as a triager of the round's team (inside the scope, as the staff pages do):
`db_queue_page` with `text=` for a two-character name (王刚), a rare name (黎光耀, in 12
items), a common word (补偿), a phrase (把低保名额给了), and each with filters (channel,
status, discipline, a week's date range); one cold run, then --runs timed runs; p50 and p95 in
ms, the rows found and whether a next page exists. Plus `db_matches` for the page (passages).

Write cost: --write items, each in its own transaction (as a request writes), inserted through
the ORM with a message, with the search index hook and with it removed; items per second.
The inserted rows are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, event, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from intake import scope, search  # noqa: E402
from intake.desk import Desk, open_desk  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.store import models as m  # noqa: E402
from intake.triage import PAGE_SIZE, QueueFilters, db_queue_page  # noqa: E402

BATCH = 10_000
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=40)
CHANNELS = ("web", "email", "hotline", "letter", "box", "api")
STATUSES = ("received",) * 70 + ("triaged",) * 12 + ("accepted",) * 8 + (
    "transferred",) * 5 + ("closed",) * 3 + ("spam",) * 2
DISCIPLINES = ("integrity",) * 40 + ("mass",) * 22 + ("work",) * 16 + (
    "organizational",) * 12 + ("life",) * 7 + ("political",) * 3
RARE_NAME, RARE_COUNT = "黎光耀", 12
PG_PORT = 25_432
SECRET_HASH = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$YmVuY2hoYXNoYmVuY2hoYXNo"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发"
    "武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪"
    "心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启"
    "克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘秀娟英华慧巧美娜静"
    "淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳"
    "嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉"
)
PLACES = ("东岭村", "西坡村", "南河村", "北山社区", "青山镇", "柳湾村", "河西乡", "白石镇",
          "云岭乡", "石桥村", "枫林村", "镇财政所", "镇农经站", "镇卫生院", "镇中心小学",
          "镇国土所", "镇民政办", "镇城管中队", "县住建局", "镇水利站")
POSTS = ("党支部书记", "村主任", "村会计", "村文书", "副镇长", "镇长", "所长", "站长",
         "院长", "校长", "主任", "副书记", "组长", "出纳", "网格员")
DEEDS = ("把低保名额给了自己的亲戚", "在危房改造中优亲厚友", "截留群众的征地补偿款",
         "虚报冒领惠农补贴", "收受工程老板的红包", "公车私用，周末开公车去钓鱼",
         "挪用集体资金放贷", "在青苗补偿款中克扣村民钱款", "私分土地补偿款",
         "违规发包村里的工程", "大操大办儿子婚礼收受礼金", "对群众反映的问题推诿扯皮",
         "侵占集体土地建私房", "账目三年没有公开", "在扶贫项目中弄虚作假",
         "打白条报销招待费", "违规领取误工补贴", "把集体山林低价承包给亲戚",
         "安排亲属在单位吃空饷", "工作日上班时间打牌")
FILLER = ("群众意见很大", "希望巡察组认真核实", "大家都知道这件事", "村民多次反映没有结果",
          "请求上级调查处理", "这种情况已经持续了好几年", "我们有照片可以证明",
          "村里的账目从来不公开", "补偿标准比别的村低很多", "工程质量也很差",
          "有关部门一直没有人管", "村民代表会议也没有开过", "恳请领导主持公道",
          "具体金额大约有十几万元", "相关材料可以提供")
OPENINGS = ("我要反映", "实名举报", "来电反映", "尊敬的巡察组领导：", "我是本村村民，反映",
            "匿名反映：", "")
TITLES = ("反映村干部问题", "关于低保评定不公的举报", "举报工程款问题", "反映补偿款问题",
          "关于村务不公开的信", "反映干部作风问题")
MESSAGES = ("补充一下，还有其他村民可以作证。", "已收到，我们会认真核实。",
            "请问现在处理到哪一步了？", "补充材料已经寄出，请查收。", "感谢您的反映，正在核实中。")
# What is searched for, and in how many items the generator puts each (besides chance).
QUERIES = (("two-character name 王刚", "王刚"), (f"rare name {RARE_NAME}", RARE_NAME),
           ("common word 补偿", "补偿"), ("phrase 把低保名额给了", "把低保名额给了"))


def person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def complaint(rng: random.Random, length: int) -> str:
    parts = [rng.choice(OPENINGS)]
    while sum(map(len, parts)) < length:
        parts.append(f"{rng.choice(PLACES)}{rng.choice(POSTS)}{person(rng)}"
                     f"{rng.choice(DEEDS)}，{rng.choice(FILLER)}。")
    return "".join(parts)


def generate(rows: int, round_id: int, seed: int = 20261206) -> Iterator[dict[str, list[Any]]]:
    """Batches of rows for submissions, labels, messages and search_texts (dicts by table)."""
    rng = random.Random(seed)
    rare = set(rng.sample(range(1, rows + 1), min(RARE_COUNT, rows)))
    step = SPAN / rows
    recorded = START + SPAN
    batch: dict[str, list[Any]] = {"subs": [], "labels": [], "messages": [], "texts": []}
    for item_id in range(1, rows + 1):
        received = START + step * (item_id - 1) + timedelta(seconds=rng.random())
        length = int(min(600, max(30, rng.lognormvariate(4.7, 0.6))))
        body = complaint(rng, length)
        if item_id in rare:
            body = f"{rng.choice(PLACES)}{rng.choice(POSTS)}{RARE_NAME}{rng.choice(DEEDS)}。" + body
        title = rng.choice(TITLES) if rng.random() < 0.33 else ""
        status = rng.choice(STATUSES)
        batch["subs"].append({
            "id": item_id, "round_id": round_id, "channel": CHANNELS[item_id % len(CHANNELS)],
            "received_at": received, "recorded_at": recorded, "title": title, "text": body,
            "anonymous": True, "late": False, "spam": status == "spam", "status": status,
            "code_lookup": f"{item_id:016x}", "secret_hash": SECRET_HASH,
            "needs_review": rng.random() < 0.3, "in_scope": rng.random() < 0.4,
        })
        if rng.random() < 0.35:
            batch["labels"].append({"submission_id": item_id, "kind": "discipline",
                                    "value": rng.choice(DISCIPLINES), "received_at": received})
        messages = []
        if rng.random() < 0.1:
            messages = [rng.choice(MESSAGES) for _ in range(rng.randint(1, 3))]
            batch["messages"] += [{"submission_id": item_id, "author": "reporter",
                                   "text": t, "at": recorded} for t in messages]
        batch["texts"].append((item_id, search.body_of([title, body, *messages])))
        if len(batch["subs"]) == BATCH:
            yield batch
            batch = {"subs": [], "labels": [], "messages": [], "texts": []}
    if batch["subs"]:
        yield batch


def bulk_load(desk: Desk, rows: int) -> float:
    """Load `rows` items with their search rows; seconds taken."""
    round_id = desk.default_round().id
    dialect = desk.engine.dialect.name
    t0 = time.perf_counter()
    if dialect == "postgresql":  # one GIN build after the load, not a million insertions
        with desk.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX ix_search_texts_grams")
    for i, batch in enumerate(generate(rows, round_id)):
        with desk.engine.begin() as conn:
            conn.execute(insert(m.Submission.__table__), batch["subs"])
            if batch["labels"]:
                conn.execute(insert(m.SubmissionLabel.__table__), batch["labels"])
            if batch["messages"]:
                conn.execute(insert(m.Message.__table__), batch["messages"])
            conn.execute(insert(m.SearchText.__table__), [
                {"submission_id": item_id, "body": body, "grams": search.grams_of(body, dialect)}
                for item_id, body in batch["texts"]])
        if i % 10 == 9:
            done = (i + 1) * BATCH
            print(f"    {done:,} items, {done / (time.perf_counter() - t0):,.0f}/s", flush=True)
    with desk.engine.begin() as conn:
        if dialect == "postgresql":
            conn.exec_driver_sql("CREATE INDEX ix_search_texts_grams ON search_texts "
                                 "USING gin (grams)")
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('submissions', 'id'), "
                                 "(SELECT max(id) FROM submissions))")
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                                 "(SELECT max(id) FROM messages))")
    if dialect == "postgresql":
        with desk.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE")
    else:
        with desk.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('optimize')")
    return time.perf_counter() - t0


# -- PostgreSQL cluster of the cache ----------------------------------------------------------


def pg_bin() -> Path:
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parts[-3]))[-1]
    return initdb.parent


def as_postgres(args: list[str]) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + args, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def postgres(folder: Path) -> Iterator[str]:
    data = folder / "pg"
    if not data.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        as_postgres([str(pg_bin() / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                     "-E", "UTF8", "--no-locale"])
    as_postgres([str(pg_bin() / "pg_ctl"), "-D", str(data), "-l", str(folder / "pg.log"), "-w",
                 "-o", f"-c listen_addresses=127.0.0.1 -c port={PG_PORT} "
                 f"-c unix_socket_directories={folder} -c shared_buffers=1GB "
                 "-c maintenance_work_mem=1GB -c work_mem=32MB -c fsync=off", "start"])
    try:
        yield f"postgresql://postgres@127.0.0.1:{PG_PORT}/postgres"
    finally:
        as_postgres([str(pg_bin() / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])


# -- timing ---------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_page(desk: Desk, filters: QueueFilters, runs: int) -> tuple[list[float], int, bool]:
    def once() -> tuple[float, int, bool]:
        start = time.perf_counter()
        with desk.sessions() as session:
            page = db_queue_page(session, filters, None, limit=PAGE_SIZE)
            search.db_matches(session, page.rows, search.parse(filters.text))
            found = len(page.rows), page.next_cursor is not None
        return (time.perf_counter() - start) * 1000, *found

    _, n, more = once()  # cold
    return [once()[0] for _ in range(runs)], n, more


def run_queries(desk: Desk, runs: int) -> list[float]:
    week = (START + timedelta(days=20), START + timedelta(days=27))
    filters = (("", {}), ("+channel=hotline", {"channel": "hotline"}),
               ("+status=received", {"status": "received"}),
               ("+discipline=integrity", {"discipline": "integrity"}),
               ("+a week", {"since": week[0], "until": week[1]}),
               ("+hotline+received+week", {"channel": "hotline", "status": "received",
                                           "since": week[0], "until": week[1]}))
    entry = desk.default_round()
    viewer = scope.Viewer(0, "triager", frozenset({entry.team_id}), frozenset({entry.id}))
    worst: list[float] = []
    print(f"    {'query':<52} {'p50 ms':>8} {'p95 ms':>8} {'rows':>5}  next")
    with scope.scoped(viewer):
        for name, q in QUERIES:
            for suffix, extra in filters:
                samples, n, more = time_page(desk, QueueFilters(text=q, **extra), runs)
                p50, p95 = statistics.median(samples), percentile(samples, 0.95)
                worst.append(p95)
                print(f"    {name + ' ' + suffix:<52} {p50:8.1f} {p95:8.1f} {n:5d}  "
                      f"{'yes' if more else 'no'}", flush=True)
    return worst


def write_cost(desk: Desk, items: int) -> None:
    """Items per second, one transaction each, with and without the index hook."""
    round_id = desk.default_round().id
    rng = random.Random(7)
    made: list[int] = []

    def write(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            with desk.sessions() as session:
                row = m.Submission(
                    round_id=round_id, channel="web", received_at=START + SPAN,
                    text=complaint(rng, 120), code_lookup=f"w{rng.getrandbits(60):x}",
                    secret_hash=SECRET_HASH)
                session.add(row)
                session.flush()
                session.add(m.Message(submission_id=row.id, author="reporter",
                                      text=rng.choice(MESSAGES)))
                session.commit()
                made.append(row.id)
        return n / (time.perf_counter() - start)

    with_index = write(items)
    event.remove(Session, "before_commit", search._keep_index)
    try:
        without = write(items)
    finally:
        event.listen(Session, "before_commit", search._keep_index)
    print(f"    write: {with_index:,.0f} items/s with the index, {without:,.0f} items/s "
          f"without ({items} items of ~120 characters and a message, one transaction each; "
          f"{(1 / with_index - 1 / without) * 1000:.2f} ms more per item)")
    with desk.sessions() as session:
        for start in range(0, len(made), 500):
            chunk = made[start:start + 500]
            session.execute(delete(m.Message).where(m.Message.submission_id.in_(chunk)))
            session.execute(delete(m.SearchText).where(m.SearchText.submission_id.in_(chunk)))
            session.execute(delete(m.Submission).where(m.Submission.id.in_(chunk)))
        session.commit()


def bench(name: str, settings: Settings, marker: Path, args: argparse.Namespace) -> None:
    print(f"  {name}")
    desk = open_desk(settings)
    try:
        with desk.sessions() as session:
            have = session.scalar(select(m.SearchText.submission_id).order_by(
                m.SearchText.submission_id.desc()).limit(1)) or 0
        if not marker.exists() or have != args.rows:
            if have:
                raise SystemExit(f"{name}: the cache holds {have:,} items; use --rebuild")
            print(f"    building {args.rows:,} items (once; cached in {args.cache})", flush=True)
            seconds = bulk_load(desk, args.rows)
            marker.write_text(str(args.rows))
            print(f"    loaded in {seconds:.0f} s ({args.rows / seconds:,.0f} items/s in bulk, "
                  "search rows included)")
        report_size(desk, settings)
        if not args.write_only:
            worst = run_queries(desk, args.runs)
            print(f"    worst p95: {max(worst):.1f} ms (goal 300 ms)")
        write_cost(desk, args.write)
    finally:
        desk.close()


def report_size(desk: Desk, settings: Settings) -> None:
    with desk.engine.connect() as conn:
        if desk.engine.dialect.name == "postgresql":
            sizes = {t: conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar()
                     for t in ("submissions", "search_texts")}
            gin = conn.execute(text("SELECT pg_relation_size('ix_search_texts_grams')")).scalar()
            print(f"    sizes: submissions {sizes['submissions'] / 2**20:,.0f} MiB, search_texts "
                  f"{sizes['search_texts'] / 2**20:,.0f} MiB (GIN index {gin / 2**20:,.0f} MiB)")
        else:
            db = settings.data_dir / "intake.db"
            rows = conn.exec_driver_sql(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name").all() if _dbstat(db) else []
            by = dict(rows)
            fts = sum(v for k, v in by.items() if k.startswith("search_fts"))
            print(f"    file {db.stat().st_size / 2**20:,.0f} MiB: submissions "
                  f"{by.get('submissions', 0) / 2**20:,.0f} MiB, search_texts "
                  f"{by.get('search_texts', 0) / 2**20:,.0f} MiB, "
                  f"FTS5 index {fts / 2**20:,.0f} MiB")


def _dbstat(db: Path) -> bool:
    try:
        with sqlite3.connect(db) as conn:
            conn.execute("SELECT 1 FROM dbstat LIMIT 1")
        return True
    except sqlite3.Error:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--write", type=int, default=500, help="items for the write cost")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/intake-bench-search"))
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--write-only", action="store_true", help="only the write cost")
    args = parser.parse_args(argv)
    if args.rebuild and args.cache.exists():
        shutil.rmtree(args.cache)
    args.cache.mkdir(parents=True, exist_ok=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Search: db_queue_page with q, {args.rows:,} items, page size {PAGE_SIZE}, "
          f"{args.runs} runs; SQLite {sqlite3.sqlite_version}, CPU cores {os.cpu_count()}, "
          f"load average {load}")
    if args.backend in ("sqlite", "both"):
        folder = args.cache / "sqlite"
        bench("SQLite", Settings(data_dir=folder), folder / "loaded", args)
    if args.backend in ("postgresql", "both"):
        with postgres(args.cache / "postgres") as url:
            folder = args.cache / "pgdata"
            bench("PostgreSQL", Settings(data_dir=folder, database_url=url),
                  folder / "loaded", args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
