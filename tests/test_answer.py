"""The extractive answer engine: cited sentences, abstention, follow-ups, input checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from briefing.answer import NOT_COVERED, standalone_question, validate_question

pytestmark = pytest.mark.slow

CONTRACT = {"id", "question", "answer", "abstained", "mode", "citations", "retrieved", "latency_ms"}
CITATION = {"n", "doc_id", "title", "publisher", "date", "url", "passage", "quote"}


def source_text(settings, doc_id: str) -> str:
    return (Path(settings.corpus_dir) / f"{doc_id}.md").read_text(encoding="utf-8")


def ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_answer_follows_the_json_contract_and_every_sentence_is_cited(mini_engine, mini_settings):
    answer = mini_engine.ask(
        "What is the maximum fine for a prohibited AI practice under the EU AI Act?", qid="q1"
    )
    data = answer.to_json()
    assert set(data) >= CONTRACT and data["id"] == "q1" and data["mode"] == "extractive"
    assert data["abstained"] is False and len(data["retrieved"]) >= 10
    assert "35 million" in data["answer"]
    assert all(set(r) == {"doc_id", "chunk_id", "score", "passage"} for r in data["retrieved"])
    sentences = [s for s in re.split(r"(?<=\])\s+", data["answer"]) if s.strip()]
    assert sentences and all(re.search(r"\[\d+\]$", s.strip()) for s in sentences)
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert numbers == {c["n"] for c in data["citations"]}
    for c in data["citations"]:
        assert set(c) >= CITATION
        source = ws(source_text(mini_settings, c["doc_id"]))
        assert ws(c["passage"]) in source, "the passage is verbatim in its source"
        for quote in c["quote"].split(" … "):
            assert ws(quote) in ws(c["passage"]), "the quote comes from the passage"
    assert len(re.sub(r"\[\d+\]", "", data["answer"]).split()) <= 160


def test_uncovered_question_abstains_and_offers_related_passages(mini_engine):
    answer = mini_engine.ask("What is the 2025 cod fishing quota in the Baltic Sea?")
    assert answer.abstained is True
    assert answer.answer.startswith(NOT_COVERED)
    assert answer.citations and all(c.quote == "" for c in answer.citations)
    assert len(answer.retrieved) >= 10


def test_follow_up_uses_the_conversation(mini_engine):
    history = ["What did Biden and Xi agree on AI when they met at Woodside in November 2023?"]
    follow_up = "And when and where did the first round of those government-to-government talks happen?"
    answer = mini_engine.ask(follow_up, history=history)
    assert not answer.abstained
    assert "Geneva" in answer.answer
    assert any("geneva" in c.doc_id for c in answer.citations)
    assert answer.standalone_question != follow_up


def test_standalone_question_leaves_self_contained_questions_alone():
    question = "What penalties does the EU AI Act set for prohibited practices?"
    assert standalone_question(question, ["What is the Colorado AI Act?"]) == question
    rewritten = standalone_question("When did they start?", ["US China talks on AI risk"])
    assert "China" in rewritten and "talks" in rewritten


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please type a question."),
        ("   \n\t", "Please type a question."),
        (None, "must be text"),
        ("x" * 5000, "too long"),
    ],
)
def test_unusable_questions_get_a_clear_message(mini_engine, question, message):
    answer = mini_engine.ask(question)
    assert answer.error and message in answer.error
    assert answer.citations == [] and answer.to_json()["error"] == answer.error


def test_validate_question_accepts_normal_text():
    assert validate_question("What is the AI Office?", 2000) is None


def test_an_abstention_says_which_name_no_source_mentions(mini_engine):
    answer = mini_engine.ask("What penalties does Argentina's AI bill set for election deepfakes?")
    assert answer.abstained
    assert "No source in the corpus mentions “Argentina”" in answer.answer
    assert answer.citations and all(not c.quote for c in answer.citations)  # closest passages, not an answer
