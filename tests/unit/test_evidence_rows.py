"""How the item page lines up evidence (display.evidence_rows): one line a clause and reading."""

from __future__ import annotations

from handlers.web.display import evidence_rows

# Written for this test: a long clause, cut at both ends, and a second clause.
TEXT = ("来信反映：村里那个一直管着账本的会计老周前年把修路的补偿款挪用了给他自己儿子买了辆车开，"
        "他没有收过礼。")


def piece(words: str, label: str, status: str = "asserted", source: str = "lexicon",
          occurrence: int = 0) -> dict:
    start = -1
    for _ in range(occurrence + 1):
        start = TEXT.index(words, start + 1)
    return {"text": words, "label": label, "status": status, "source": source,
            "start": start, "end": start + len(words)}


def test_pieces_of_one_clause_share_a_line_and_each_label_shows_once() -> None:
    evidence = [piece("挪用", "integrity"), piece("挪用", "mass"), piece("挪用", "integrity"),
                piece("修路", "natural_resources", source="route"),
                piece("收过礼", "integrity", status="negated"),
                {"text": "廉洁纪律", "label": "integrity", "status": "asserted",
                 "source": "form", "start": -1, "end": -1}]
    rows = evidence_rows(TEXT, evidence, ["ev-a", "ev-a", "ev-a", "ev-b", "", ""], reach=8)
    assert [r.labels for r in rows] == [["integrity", "mass", "natural_resources"],
                                        ["integrity"], ["integrity"]]
    assert [r.status for r in rows] == ["asserted", "negated", "asserted"]
    assert rows[0].mark == "ev-a" and rows[2].source == "form" and rows[2].parts == []
    bold = [words for words, is_bold in rows[0].parts if is_bold]
    assert bold == ["修路", "挪用"]
    # The long clause is cut `reach` characters either side of its words, and says so.
    assert rows[0].parts[0] == ("…", False) and rows[0].parts[-1] == ("…", False)
    assert "".join(w for w, _ in rows[1].parts) == "他没有收过礼"


def test_the_model_reading_and_a_piece_with_no_place_stand_alone() -> None:
    evidence = [piece("挪用", "integrity"), piece("挪用", "work", source="model"),
                {"text": "收礼", "label": "integrity", "status": "asserted", "source": "lexicon",
                 "start": 3, "end": 5}, {"text": "收礼", "label": "mass", "status": "asserted",
                                        "source": "lexicon", "start": -1, "end": -1}]
    rows = evidence_rows(TEXT, evidence, ["", "", "", ""])
    assert [r.labels for r in rows] == [["integrity"], ["work"], ["integrity", "mass"]]
    assert rows[2].parts == [] and rows[2].words == "收礼"
