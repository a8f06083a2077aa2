"""Sentence selection rules of the extractive answerer, on hand-made candidates (no index needed)."""

from __future__ import annotations

import numpy as np
import pytest

from briefing.answer import (
    FORM_BONUS,
    Candidate,
    answer_forms,
    form_adjustment,
    list_items,
    new_name,
    select,
    terms,
    usable,
    with_answer_form,
)
from briefing.types import Passage


def passage(chunk: str, rank: int, doc: str = "doc") -> Passage:
    return Passage(f"{doc}#{chunk}", doc, "", 1.0, rank, 0, 0, "", {"title": doc})


def cand(text: str, start: int, score: float, p: Passage, axis: int, **flags) -> Candidate:
    vector = np.zeros(16, dtype=np.float32)
    vector[axis] = 1.0  # orthogonal vectors: no two candidates are near-duplicates
    return Candidate(p, start, start + len(text), text, vector, score, score, **flags)


@pytest.mark.parametrize(
    ("question", "forms"),
    [
        ("When did the talks start?", ["date"]),
        ("And when and where did the first round happen?", ["date"]),
        ("By when must providers comply?", ["date"]),
        ("How long do officials have to produce the plan?", ["duration"]),
        ("How many chips can be exported without a licence?", ["number"]),
        ("When firms test models, which risks must they watch?", ["name"]),  # not a date question
        ("Which body oversees general-purpose models?", ["name"]),
        ("What must providers publish?", []),
    ],
)
def test_answer_forms(question, forms):
    assert answer_forms(question) == forms


def test_form_adjustment_prefers_answers_and_demotes_headings_fragments_and_echoes():
    plain = form_adjustment("The plan was due within 180 days of the order.", [])
    assert form_adjustment("The plan was due within 180 days of the order.", ["duration"]) > plain
    # a URL's digits are not a date
    linked = "The [plan](https://example.org/2025/07/plan.pdf) was released by the office."
    assert form_adjustment(linked, ["date"]) == form_adjustment(linked, [])
    assert form_adjustment("Obligations for providers of general-purpose AI models", []) < plain
    assert form_adjustment("advise the Commission on international matters;", []) < plain
    echo = "Safe and trustworthy artificial intelligence for sustainable development."
    asked = {"safe", "trustworthy", "artificial", "intelligence", "sustainable", "development"}
    assert form_adjustment(echo, [], asked) < form_adjustment(echo, [])


def test_a_which_question_prefers_a_sentence_naming_something_new():
    question = "Which Commission body is meant to build up EU-level expertise?"
    asked, forms = terms(question), answer_forms(question)
    names = "The AI Office was established by Commission Decision to develop Union expertise."
    restates = "The Commission should build up central expertise at Union level."  # "Union" is the EU
    assert new_name(names, asked) and not new_name(restates, asked)
    assert form_adjustment(names, forms, asked) - form_adjustment(restates, forms, asked) == pytest.approx(
        FORM_BONUS
    )


def test_statute_text_in_capitals_is_usable_prose():
    raw = "ON AND AFTER FEBRUARY 1, 2026, A DEVELOPER SHALL USE REASONABLE CARE TO PROTECT CONSUMERS."
    assert usable(raw, raw)
    assert form_adjustment(raw, ["date"]) > 0  # not demoted as a heading, and it gives a date
    assert not usable("PAGE 8-SENATE BILL", "PAGE 8-SENATE BILL")


def test_a_list_is_kept_whole_across_a_chunk_boundary_and_skips_footnotes():
    first, second = passage("1", 1), passage("2", 4)
    lead = cand("The Act defines the term as follows:", 0, 0.9, first, 0, opens_list=True)
    note = cand("3 Article 113, third paragraph, point (a).", 40, 0.2, first, 1, is_note=True)
    item = cand("'System' means a machine-based system that infers outputs.", 90, 0.3, second, 2)
    other = cand("An unrelated sentence about something else entirely.", 200, 0.5, second, 3)
    chosen = select([lead, note, item, other], max_words=120)
    assert [c.text for c in chosen[:2]] == [lead.text, item.text]
    assert note not in chosen


def test_list_items_stop_at_the_first_sentence_that_is_not_an_item():
    p = passage("1", 1)
    lead = cand("Organisations watch these risks:\n", 0, 0.9, p, 0, opens_list=True)
    items = [
        cand(f"Risk number {i} is described here.", 40 + 40 * i, 0.1, p, i + 1, is_item=True)
        for i in range(3)
    ]
    prose = cand("Organisations also commit to research.", 200, 0.1, p, 9)
    after = cand("A later item that is not part of this list.", 300, 0.1, p, 10, is_item=True)
    found = list_items(lead, [lead, *items, prose, after], [lead], budget=100)
    assert found == items


def test_a_when_question_gets_a_dated_sentence():
    p, q = passage("1", 1), passage("2", 8)
    restates = cand("The plan was released under the order on barriers to AI leadership.", 0, 0.8, p, 0)
    dated = cand("Within 180 days of this order, officials shall submit an action plan.", 0, 0.5, q, 1)
    chosen = with_answer_form([restates], [restates, dated], ["duration"], max_words=120)
    assert dated in chosen
    too_weak = cand("Within 30 days the office reports.", 50, 0.2, q, 2)
    assert with_answer_form([restates], [restates, too_weak], ["duration"], 120) == [restates]


def test_a_comparison_draws_on_more_than_one_source():
    a1, a2, b = passage("1", 1, "act"), passage("2", 2, "act"), passage("3", 3, "code")
    first = cand("The act sets a deadline of fifteen days for incident reports.", 0, 0.80, a1, 0)
    second = cand("The act also requires reports on widespread infringements.", 900, 0.79, a2, 1)
    other = cand("The code sets a deadline of five days for serious incidents.", 0, 0.74, b, 2)
    plain = select([first, second, other], max_words=22)
    assert plain == [first, second]
    compared = select([first, second, other], max_words=22, spread=0.05)
    assert compared == [first, other]
