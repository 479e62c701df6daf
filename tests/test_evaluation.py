"""Tests for the evaluation harness: decide(), CSV validation, metrics, calibration, ``kb eval``/``kb query``.

``kb eval`` runs on a small CSV pair with the real all-MiniLM-L6-v2 model. Its queries are built so
that the decisions do not depend on fine score differences: verbatim KB sentences score 1.0, one
sentence belongs to two articles (a tie, so a clarification), one label is wrong on purpose.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from knowledge_index.baselines import Bm25Ranker
from knowledge_index.cli import main
from knowledge_index.decision import (
    MULTILINGUAL_THRESHOLDS_FILE,
    Calibration,
    OperatingPoint,
    Thresholds,
    calibrate,
    calibrate_answer,
    calibrate_precision,
    decide,
    load_thresholds,
)
from knowledge_index.evaluation import (
    CsvError,
    Labeled,
    article_ids,
    aurc,
    auroc,
    check_labels,
    mcc,
    read_labeled_csv,
    risk_coverage,
)
from knowledge_index.lexical import tokens

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class FakeHit:
    article_id: str
    score: float


# --- decide ------------------------------------------------------------------------------------

CLARIFYING = Thresholds(answer=0.5, clarify_margin=0.05, clarify_floor=0.4)


@pytest.mark.parametrize(
    ("hits", "thresholds", "kind", "ids"),
    [
        ([], Thresholds(), "escalate", ()),
        ([FakeHit("a", 0.56), FakeHit("b", 0.55)], Thresholds(), "answer", ("a",)),  # clarify is off by default
        ([FakeHit("a", 0.55)], Thresholds(), "answer", ("a",)),  # the threshold itself answers
        ([FakeHit("a", 0.5499)], Thresholds(), "escalate", ()),
        ([FakeHit("a", 0.9), FakeHit("b", 0.86)], CLARIFYING, "clarify", ("a", "b")),
        ([FakeHit("a", 0.9), FakeHit("b", 0.84)], CLARIFYING, "answer", ("a",)),  # gap above the margin
        ([FakeHit("a", 0.45), FakeHit("b", 0.41)], CLARIFYING, "clarify", ("a", "b")),  # below answer, above floor
        ([FakeHit("a", 0.42), FakeHit("b", 0.39)], CLARIFYING, "escalate", ()),  # second below the floor
        ([FakeHit("a", 0.9)], CLARIFYING, "answer", ("a",)),  # one hit cannot clarify
    ],
)
def test_decide(hits: list[FakeHit], thresholds: Thresholds, kind: str, ids: tuple[str, ...]) -> None:
    decision = decide(hits, thresholds)
    assert (decision.kind, decision.article_ids) == (kind, ids)
    assert decision.confidence == (hits[0].score if hits else 0.0)
    assert decision.reason


def test_thresholds_validation_and_json() -> None:
    with pytest.raises(ValueError):
        Thresholds(answer=0.5, clarify_margin=0.1)
    with pytest.raises(ValueError):
        Thresholds(answer=math.nan)
    assert Thresholds.from_json(CLARIFYING.to_json()) == CLARIFYING
    assert not Thresholds().clarifies and Thresholds().answer == 0.55
    shipped = load_thresholds()  # the committed, calibrated file
    assert 0 < shipped.answer < 1


# --- CSV ---------------------------------------------------------------------------------------


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_read_csv_skips_blank_lines_and_numbers_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "kb.csv", '\ufeffsentence,label\n\nhello  there,greet\n"two\nlines",a\nlast,b\n')
    rows = read_labeled_csv(path)
    assert rows == [Labeled("hello there", "greet", 3), Labeled("two lines", "a", 4), Labeled("last", "b", 6)]


def test_read_csv_takes_a_spreadsheet_export_and_says_what_it_ignored(tmp_path: Path) -> None:
    # A UTF-8 BOM, CRLF, an empty trailing column (header and rows), an empty row, a quoted line break.
    text = '\ufeffsentence,label,\r\nhello there,greet,\r\n,,\r\n"two\r\nlines",a,\r\nlast,b\r\n'
    notes: list[str] = []
    rows = read_labeled_csv(write(tmp_path / "kb.csv", text), notes.append)
    assert rows == [Labeled("hello there", "greet", 2), Labeled("two lines", "a", 4), Labeled("last", "b", 6)]
    kb = tmp_path / "kb.csv"
    assert notes == [f"{kb}: ignored 1 empty trailing column", f"{kb}: ignored 1 empty row (line 3)"]

    # Some exports leave the header without the empty column, or use ";" (German spreadsheets).
    notes.clear()
    rows = read_labeled_csv(write(tmp_path / "de.csv", "Sentence;Label\nWo ist mein Paket?;shipping;;\n"), notes.append)
    assert rows == [Labeled("Wo ist mein Paket?", "shipping", 2)]
    de = tmp_path / "de.csv"
    assert notes == [f"{de}: read with ';' between fields", f"{de}: ignored 2 empty trailing columns"]
    assert read_labeled_csv(write(tmp_path / "plain.csv", "sentence,label\nhi,a\n"), notes.append) == [
        Labeled("hi", "a", 2)]
    assert len(notes) == 2  # a plain file ignores nothing


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty file"),
        ("text,label\nhi,a\n", 1, "header must be 'sentence,label'"),
        ("sentence,label\nhi,a\nhi,a,b\n", 3, "expected 2 fields"),
        ("sentence,label\nhi,a\n\n ,a\n", 4, "empty sentence"),
        ("sentence,label\nhi, \n", 2, "empty label"),
        ("sentence,label\nhi\n", 2, "expected 2 fields"),
        (b"sentence,label\nhi,a\n\xff,b\n", 3, "not valid UTF-8"),
        (b"\xff\xfes\x00,\x00l\x00", 1, "UTF-16"),
        # The line of a row is the line where it starts, after a row with quoted line breaks too.
        ('\ufeffsentence,label,\r\n"one\r\ntwo\r\nthree",a,\r\nhi,a,b\r\n', 5, "expected 2 fields"),
        ('sentence,label,\n"one\ntwo",a,\n"never closed,a\nhi,a\n', 4, "invalid CSV"),
        ("sentence,label,\nhi,a,\nhi,,\n", 3, "empty label"),
        ("sentence,label,,\nhi,a,,note\n", 2, "expected 2 fields (sentence,label), found 4"),
        ("sentence,label,notes\nhi,a,x\n", 1, "header must be 'sentence,label'"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, text: str | bytes, line: int, message: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(CsvError) as caught:
        read_labeled_csv(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_label_checks_name_file_and_line() -> None:
    kb = [Labeled("hi", "greet", 2), Labeled("bye", "oos", 3)]
    with pytest.raises(CsvError, match=r"^kb.csv:3: the KB must not contain the OOS label 'oos'"):
        check_labels(kb, [], "oos", ("kb.csv", "test.csv"))
    with pytest.raises(CsvError, match=r"^test.csv:5: label 'thanks' is not a KB label"):
        check_labels(kb[:1], [Labeled("hi", "greet", 2), Labeled("ta", "thanks", 5)], "oos", ("kb.csv", "test.csv"))


def test_article_ids_are_valid_and_unique() -> None:
    ids = article_ids(["card-arrival", "Card arrival", "card_arrival", "x", "Wie lange dauert es?", "a" * 100])
    assert ids["card-arrival"] == "card-arrival"  # already an id
    assert ids["Card arrival"].startswith("card-arrival-") and ids["card_arrival"].startswith("card-arrival-")
    assert len(set(ids.values())) == 6
    assert all(2 <= len(i) <= 64 and i[0].isalnum() and set(i) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
               for i in ids.values())


# --- metrics and calibration ------------------------------------------------------------------


def test_mcc_and_auroc_by_hand() -> None:
    # 3 classes; trace 3 of 5; true counts a2 b2 None1; predicted a2 b1 None2; sum p*t = 4+2+2 = 8.
    gold = ["a", "a", "b", "b", None]
    predicted = ["a", "b", "b", None, None]
    assert mcc(gold, predicted) == pytest.approx((3 * 5 - 8) / math.sqrt((25 - 9) * (25 - 9)))
    assert mcc(["a", "b"], ["a", "a"]) == 0.0
    # pairs: 0.9 beats both; 0.8 ties 0.8 (half) and beats 0.3; 0.5 beats 0.3 only: 4.5 of 6.
    assert auroc([0.9, 0.8, 0.5], [0.8, 0.3]) == 0.75
    assert auroc([0.9], []) is None


def test_calibrate_answer_threshold_exactly() -> None:
    top = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    right = np.array([True, True, False, True, False, False])
    oos = np.array([False, False, False, False, True, True])
    threshold, accuracy = calibrate_answer(top, right, oos)
    assert (threshold, accuracy) == (0.55, 5 / 6)  # answer the top 4 (3 right), escalate the 2 OOS


def test_calibrate_adopts_the_clarify_rule_only_within_the_cap() -> None:
    # 10 queries: 8 answered right at high scores, 2 close calls whose right article is second.
    top = np.array([0.9] * 8 + [0.7, 0.7])
    second = np.array([0.2] * 8 + [0.69, 0.69])
    right = np.array([True] * 8 + [False, False])
    in_two = np.ones(10, dtype=bool)
    oos = np.zeros(10, dtype=bool)
    thresholds, summary = calibrate(top, second, right, in_two, oos, max_clarify_rate=0.2)
    assert thresholds.clarifies and summary["accuracy"] == 1.0 and summary["accuracy_without_clarify"] == 0.8
    decisions = [decide([FakeHit("x", t), FakeHit("y", s)], thresholds).kind for t, s in zip(top, second, strict=True)]
    assert decisions == ["answer"] * 8 + ["clarify"] * 2
    capped, summary = calibrate(top, second, right, in_two, oos, max_clarify_rate=0.1)
    assert not capped.clarifies and summary["accuracy"] == 0.8  # the two close calls go together or not at all


# --- the real model: kb eval and kb query -----------------------------------------------------

KB_CSV = """sentence,label
How do I get a refund?,refund
Can I get my money back?,refund
How long do refunds take?,refund
What is the status of my order?,refund
Where is my parcel?,shipping
How long does delivery take?,shipping
Do you ship abroad?,shipping
What is the status of my order?,shipping
I forgot my password,password
How do I reset my password?,password
I can't log in to my account,password
How do I change my password?,password
When are you open?,hours
What are your opening hours?,hours
Are you open on Sunday?,hours
What time do you close?,hours
"""
# Expected decisions with answer 0.5, clarify when the top two are within 0.15 and both >= 0.2.
QUERIES_CSV = """sentence,label
How do I get a refund?,refund
Do you ship abroad?,shipping
How do I reset my password?,password
What is the status of my order?,shipping
What are your opening hours?,refund
What time do you close?,hours
"Help, I have forgotten the password of my account",none
Which planet is the largest in the solar system?,none
"""
EXPECTED = [  # (decision, offered, correct)
    ("answer", ["refund"], True),
    ("answer", ["shipping"], True),
    ("answer", ["password"], True),
    ("clarify", ["shipping", "refund"], True),  # a KB question of both articles: close scores
    ("answer", ["hours"], False),  # mislabelled on purpose
    ("answer", ["hours"], True),
    ("answer", ["password"], False),  # OOS, answered
    ("escalate", [], True),
]


@pytest.fixture(scope="module")
def eval_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("eval")
    thresholds = folder / "thresholds.json"
    thresholds.write_text(json.dumps({"thresholds": {"answer": 0.5, "clarify_margin": 0.15, "clarify_floor": 0.2}}))
    kb, queries = write(folder / "kb.csv", KB_CSV), write(folder / "q.csv", QUERIES_CSV)
    argv = ["eval", "--kb", str(kb), "--queries", str(queries), "--oos-label", "none",
            "--thresholds", str(thresholds), "--json", str(folder / "out.json")]
    assert main(argv) == 0
    report: dict[str, object] = json.loads((folder / "out.json").read_text())
    return report


def test_kb_eval_decisions(eval_report: dict[str, object]) -> None:
    rows = eval_report["rows"]
    assert isinstance(rows, list)
    assert [(r["decision"], r["offered"], r["correct"]) for r in rows] == EXPECTED
    assert [r["line"] for r in rows] == list(range(2, 10))
    confidences = [r["confidence"] for r in rows]
    assert min(confidences[:3] + confidences[4:7]) >= 0.5 and confidences[7] < 0.2  # the planet: far from all
    assert eval_report["thresholds"] == {"answer": 0.5, "clarify_margin": 0.15, "clarify_floor": 0.2}


def spreadsheet_export(text: str) -> bytes:
    """`text` as a spreadsheet saves it: a BOM, CRLF, an empty trailing column and an empty last row."""
    lines = [f"{line}," for line in text.splitlines()] + [",,"]
    return "\ufeff".encode() + "\r\n".join(lines).encode() + b"\r\n"


def test_kb_eval_reads_spreadsheet_exports(
    tmp_path: Path, eval_report: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"thresholds": eval_report["thresholds"]}))
    kb = write(tmp_path / "kb.csv", spreadsheet_export(KB_CSV))
    queries = write(tmp_path / "q.csv", spreadsheet_export(QUERIES_CSV))
    argv = ["eval", "--kb", str(kb), "--queries", str(queries), "--oos-label", "none",
            "--thresholds", str(thresholds), "--json", str(tmp_path / "out.json"), "--latency-sample", "1"]
    assert main(argv) == 0
    notes = [f"{kb}: ignored 1 empty trailing column", f"{kb}: ignored 1 empty row (line 18)",
             f"{queries}: ignored 1 empty trailing column", f"{queries}: ignored 1 empty row (line 10)"]
    assert capsys.readouterr().err.splitlines() == [f"warning: {note}" for note in notes]
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["ignored"] == notes
    assert report["rows"] == eval_report["rows"]  # the same questions, lines and decisions as the plain files


def test_kb_eval_metrics_by_hand(eval_report: dict[str, object]) -> None:
    metrics = eval_report["metrics"]
    assert isinstance(metrics, dict)
    # Classes (gold -> predicted): refund->refund, shipping->shipping, password->password,
    # shipping->shipping (offered in the clarification), refund->hours, hours->hours, oos->password,
    # oos->oos. Trace 6 of 8; true counts 2,2,1,1,2 (sum of squares 14); predicted 1,2,2,2,1 (14);
    # sum of products 2+4+2+2+2 = 12. MCC = (6*8 - 12) / sqrt((64-14)*(64-14)) = 36/50.
    assert {key: metrics[key] for key in EXPECTED_METRICS} == EXPECTED_METRICS
    assert metrics["latency_sample"] == 8 and metrics["batched_vs_single_changed"] == 0
    assert 0 < metrics["latency_ms_p50"] <= metrics["latency_ms_p99"]


EXPECTED_METRICS = {
    "queries": 8,
    "in_scope": 6,
    "oos": 2,
    "accuracy_at_1": round(5 / 6, 4),  # all but the mislabelled one
    "answered_right_rate": round(4 / 6, 4),
    "answer_precision": round(4 / 6, 4),
    "oos_recall": 0.5,
    "oos_precision": 1.0,
    "overall_accuracy": 0.75,
    "mcc": 0.72,
    # Every in-scope query scores above the planet; two of six above the forgotten password: 8 of 12 pairs.
    "auroc": round(8 / 12, 4),
    "clarification_rate": 0.125,
    "escalation_rate": 0.125,
}


def test_kb_eval_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = write(tmp_path / "kb.csv", KB_CSV)
    queries = write(tmp_path / "q.csv", "sentence,label\nhello,greeting\n")
    assert main(["eval", "--kb", str(kb), "--queries", str(queries), "--oos-label", "none"]) == 2
    error = f"error: {queries}:2: label 'greeting' is not a KB label nor the OOS label 'none'\n"
    assert capsys.readouterr().err == error
    assert main(["eval", "--kb", str(kb)]) == 2
    assert "needs --kb and --queries" in capsys.readouterr().err


def test_kb_query_prints_ranking_and_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = tmp_path / "index"
    assert main(["build", "--articles", str(ROOT / "tests" / "fixtures" / "articles"), "--out", str(index)]) == 0
    assert "multilingual model: universal-sentence-encoder-multilingual-3" in capsys.readouterr().out
    assert main(["query", "--index", str(index), "How do I return a bike?"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "language: en (model: all-MiniLM-L6-v2)"
    assert lines[1].split() == ["rank", "confidence", "similarity", "article", "title"]
    rank, confidence, _, article = lines[2].split()[:4]
    assert (rank, article) == ("1", "bike-returns")
    assert lines[-1].startswith(f"decision: answer bike-returns (score {confidence} >= {load_thresholds().answer:g})")

    assert main(["query", "--index", str(index), "Wie lange dauert die Lieferung?"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "language: de (model: universal-sentence-encoder-multilingual-3)"
    assert lines[2].split()[3] == "shipping-times"
    answer = load_thresholds(MULTILINGUAL_THRESHOLDS_FILE).answer
    assert lines[-1].startswith("decision: answer shipping-times (score ") and f">= {answer:g})" in lines[-1]


# --- baselines and dev sets -------------------------------------------------------------------


def test_bm25_scores_equal_rank_bm25() -> None:
    kb = [Labeled(text, label) for text, label in (row.split(",") for row in KB_CSV.splitlines()[1:])]
    ranker = Bm25Ranker(kb, article_ids([row.label for row in kb]))
    for query in ("how long will my refund take", "password", "opening hours on sunday", "zzz"):
        assert np.allclose(ranker.scores(query), ranker.bm25.model.get_scores(tokens(query)))
    [hits] = ranker.rank(["reset password"])
    assert hits[0].article_id == "password"



# --- the precision-first operating point ---------------------------------------------------------


def test_risk_coverage_and_aurc_by_hand() -> None:
    # Answered in order of confidence; the two at 0.7 together (equal confidences are answered together).
    confidence = [0.9, 0.7, 0.7, 0.2]
    right = [True, True, False, False]
    coverage, risk = risk_coverage(confidence, right)
    assert coverage == [0.25, 0.75, 1.0]
    assert risk == pytest.approx([0.0, 1 / 3, 0.5])
    assert aurc(confidence, right) == pytest.approx(0.25 * 0 + 0.5 * (1 / 3) + 0.25 * 0.5)
    assert aurc([], []) is None


def test_calibrate_precision_answers_as_much_as_reaches_each_target() -> None:
    top = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    right = np.array([True, True, False, True, False, False])
    oos = np.array([False, False, False, False, False, True])
    none = np.full(len(top), -np.inf)  # no second article: the clarify rule never applies
    points = {p.target: p for p in calibrate_precision(top, none, right, right.copy(), oos, targets=(0.7, 0.75, 0.9))}
    # Answering the first 4 is right 3 times of 4 (0.75); the first 2, 2 of 2; the first 3, 2 of 3 (0.667).
    assert points[0.75].thresholds == Thresholds(answer=0.55)
    assert (points[0.75].precision, points[0.75].answered_right) == (0.75, 0.6)  # 3 of 5 in scope
    assert points[0.7].thresholds == Thresholds(answer=0.55)
    assert points[0.9].thresholds == Thresholds(answer=0.75)
    assert (points[0.9].precision, points[0.9].answered_right) == (1.0, 0.4)


def test_calibrate_precision_clarifies_only_when_the_offered_pair_reaches_the_target() -> None:
    # Queries 0-2 have a confident top article; 3-5 two close ones, one of which is right for 3 and 4.
    top = np.array([0.95, 0.9, 0.85, 0.5, 0.45, 0.4] + [0.05] * 24)
    second = np.array([0.01, 0.02, 0.01, 0.45, 0.42, 0.38] + [0.01] * 24)
    right = np.array([True, True, True, False, True, False] + [False] * 24)
    in_two = np.array([True, True, True, True, True, False] + [False] * 24)
    oos = np.array([False] * 6 + [True] * 24)
    [point] = calibrate_precision(top, second, right, in_two, oos, targets=(0.8,))
    # Answering alone: 0-4 are right 4 times of 5 (0.8), adding 5 drops to 4 of 6. Clarifying 3 (its pair
    # holds the answer) and answering 0-2, 4 and 5 is right 5 times of 6: 5 of the 6 in scope, the most
    # there is (5 is never right), with the fewest clarifications.
    assert (point.precision, point.answered_right) == (round(5 / 6, 4), round(5 / 6, 4))
    pairs = zip(top, second, strict=True)
    decisions = [decide([FakeHit("a", t), FakeHit("b", s)], point.thresholds).kind for t, s in pairs]
    assert decisions[:7] == ["answer"] * 3 + ["clarify", "answer", "answer", "escalate"]
    [strict] = calibrate_precision(top, second, right, in_two, oos, targets=(0.8,), max_clarify_rate=0.01)
    assert not strict.thresholds.clarifies and strict.answered_right == round(4 / 6, 4)


def test_calibration_picks_the_operating_point_of_the_target() -> None:
    points = tuple(OperatingPoint(t, Thresholds(answer=a), None, 0.5) for t, a in ((0.8, 0.3), (0.9, 0.6), (0.95, 0.8)))
    calibration = Calibration(Thresholds(answer=0.8), None, points)
    assert calibration.at(None) == Thresholds(answer=0.8)
    assert calibration.at(0.9) == Thresholds(answer=0.6)
    assert calibration.at(0.85) == Thresholds(answer=0.6)  # the lowest calibrated target reaching it
    assert calibration.at(0.5) == Thresholds(answer=0.3)
    assert calibration.at(0.99) == Thresholds(answer=0.8)  # above them all: the strictest
    assert Calibration.from_json(json.loads(json.dumps(calibration.to_json()))) == calibration
    with pytest.raises(ValueError, match="precision target"):
        calibration.at(1.0)
