"""Answer units and question analysis, over a real manifest of hand-written documents."""

from __future__ import annotations

import numpy as np
import pytest

from briefing.answer.question import Question
from briefing.answer.units import build_units
from briefing.chunking import split_units
from briefing.manifest import Manifest
from briefing.types import Chunk, Document, Passage

LIST_DOC = """# Duties

Every provider must:

- prepare technical documentation of the model;
- give information to downstream providers;
- publish a summary of the training content.

Providers outside the Union appoint a representative. The AI Office enforces these rules.
"""
TRANSCRIPT = """MR. SULLIVAN: Thank you all for coming out this evening.

The two leaders agreed to maintain human control over the decision to use nuclear weapons.

Q: Was that agreed at Woodside as well?

MR. SULLIVAN: We did not have this agreement at Woodside, and it is a step forward.

Q: What comes next for the talks?

MR. SULLIVAN: The channel stays open through the transition.
"""


def _manifest(tmp_path, docs: dict[str, str]) -> Manifest:
    manifest = Manifest(tmp_path / "manifest.sqlite")
    rng = np.random.default_rng(0)
    for doc_id, text in docs.items():
        spans = [(u.start, u.end) for u in split_units(text) if not u.is_heading]
        vecs = rng.normal(size=(len(spans), 8)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        doc = Document(doc_id, text, doc_id)
        chunk = Chunk(f"{doc_id}#0", doc_id, text, 0, len(text), "", [])
        manifest.put(doc, [chunk], np.zeros((1, 8)), spans, vecs)
    return manifest


def _passage(doc_id: str, text: str, start: int, end: int, rank: int = 1) -> Passage:
    return Passage(f"{doc_id}#{start}", doc_id, text[start:end], 1.0, rank, start, end, "", {"title": doc_id})


def test_a_list_opener_brings_its_items_even_past_the_end_of_the_chunk(tmp_path):
    manifest = _manifest(tmp_path, {"gpai": LIST_DOC})
    cut = LIST_DOC.index("- give")  # the retrieved chunk ends after the first item
    units = build_units([_passage("gpai", LIST_DOC, 0, cut)], manifest)
    opener = next(u for u in units if u.lead == "Every provider must:")
    assert opener.items == [
        "prepare technical documentation of the model;",
        "give information to downstream providers;",
        "publish a summary of the training content.",
    ]
    assert "publish a summary" in opener.passage.text  # the citation shows the whole list
    assert opener.passage.end > cut


def test_a_list_item_carries_the_sentence_that_opens_its_list(tmp_path):
    manifest = _manifest(tmp_path, {"gpai": LIST_DOC})
    start = LIST_DOC.index("- give")
    units = build_units([_passage("gpai", LIST_DOC, start, len(LIST_DOC))], manifest)
    item = next(u for u in units if u.lead.startswith("give information"))
    assert item.text == "Every provider must: … give information to downstream providers;"
    after = next(u for u in units if u.lead.startswith("Providers outside"))
    assert not after.opener  # prose after the list is not an item of it


def test_a_list_too_long_to_show_whole_is_not_shown(tmp_path, monkeypatch):
    import briefing.answer.units as units_module
    from briefing.answer.compose import choose
    from briefing.answer.model import Composition

    monkeypatch.setattr(units_module, "MAX_ITEMS", 2)
    manifest = _manifest(tmp_path, {"gpai": LIST_DOC})
    units = build_units([_passage("gpai", LIST_DOC, 0, len(LIST_DOC))], manifest)
    opener = next(u for u in units if u.lead == "Every provider must:")
    assert not opener.whole
    for unit in units:
        unit.score = 1.0 if unit is opener else 0.5
    chosen = choose(units, Composition(ratio=0.1, max_units=6), max_words=400)
    assert opener not in chosen and chosen  # the next best units answer instead


def test_transcript_lines_carry_their_speaker_and_bare_tags_are_not_units(tmp_path):
    manifest = _manifest(tmp_path, {"gaggle": TRANSCRIPT})
    units = build_units([_passage("gaggle", TRANSCRIPT, 0, len(TRANSCRIPT))], manifest)
    texts = [u.text for u in units]
    assert (
        "Sullivan: The two leaders agreed to maintain human control over the decision to use nuclear weapons."
        in texts
    )
    assert "Sullivan: We did not have this agreement at Woodside, and it is a step forward." in texts
    assert not any(t.startswith(("MR.", "Q:")) for t in texts)  # no raw speaker tag leads a unit
    assert not any(t.endswith("?") for t in texts)  # journalists' questions are not answers


@pytest.mark.parametrize(
    ("question", "forms"),
    [
        ("When did the talks start?", {"date"}),
        ("How long do officials have to produce the plan?", {"duration"}),
        ("How many chips can be exported without a licence?", {"number"}),
        ("Which body oversees general-purpose models?", {"name", "list"}),
        ("Does the declaration bind its signatories?", {"yesno"}),
        ("How does the 2025 memo differ from the 2024 one?", {"comparison"}),
    ],
)
def test_question_forms(question, forms):
    assert Question.parse(question).forms == forms


def test_question_names_are_found_in_whole_by_alias_or_by_all_their_parts():
    q = Question.parse("What did Scott Bessent say about the EU and Nvidia's H20?")
    assert {"scott bessent", "h20"} <= set(q.entities)
    assert q.missing("Treasury Secretary Bessent, Scott, told the European Union about the H20.") == [
        "nvidia"
    ]


def test_a_follow_up_borrows_the_terms_of_the_earlier_turn():
    q = Question.parse("And when does it take effect?", ["Which bill replaces Colorado's SB 24-205?"])
    assert q.followup and "Colorado" in q.query
    assert "colorado" in q.context_terms and "colorado" not in q.own_terms


TABLE_DOC = """# Fines

The Regulation fixes three maximum levels:

| Infringement | Maximum fine |
|---|---|
| Engaging in a **prohibited** practice | EUR 35 million or 7% of turnover |
| Breaching other obligations | EUR 15 million or 3% of turnover |

Authorities weigh each case on its facts and circumstances.
"""


def test_a_table_row_carries_its_header_and_every_quote_is_verbatim(tmp_path):
    manifest = _manifest(tmp_path, {"fines": TABLE_DOC})
    start = TABLE_DOC.index("| Breaching")
    units = build_units([_passage("fines", TABLE_DOC, start, len(TABLE_DOC))], manifest)
    row = next(u for u in units if u.lead.startswith("Breaching"))
    assert row.opener == "Infringement | Maximum fine"
    assert row.passage.start < start  # the citation reaches back to the header
    opener = build_units([_passage("fines", TABLE_DOC, 0, len(TABLE_DOC))], manifest)[0]
    assert "35 million" in opener.text and "15 million" in opener.text  # the lead brings the rows
    for unit in [row, opener]:
        assert unit.quotes and all(q in " ".join(unit.passage.text.split()) for q in unit.quotes)


def test_an_answer_never_opens_with_a_heading_a_fragment_a_pronoun_or_capitals(tmp_path):
    from briefing.answer.compose import choose, render
    from briefing.answer.model import Composition

    doc = (
        "Obligations for providers of general-purpose models\n\n"
        "ARTICLE 53 OBLIGATIONS FOR PROVIDERS OF GENERAL-PURPOSE AI MODELS APPLY FROM AUGUST 2025.\n\n"
        "It also covers models released under a free licence.\n\n"
        "The AI Office supervises the providers of general-purpose AI models."
    )
    manifest = _manifest(tmp_path, {"doc": doc})
    units = build_units([_passage("doc", doc, 0, len(doc))], manifest)
    for rank, unit in enumerate(units):
        unit.score = 1.0 - rank / 10  # document order: the weakest candidate to open comes last
    chosen = choose(units, Composition(ratio=0.1, max_units=6), max_words=400)
    assert chosen[0].lead == "The AI Office supervises the providers of general-purpose AI models."
    assert [u.can_open for u in units] == [False, False, False, True]
    text, citations = render(chosen)
    assert all(q in " ".join(citations[0].passage.split()) for q in citations[0].quote.split(" … "))


def test_a_citation_covers_every_view_of_its_chunk_that_its_units_quote():
    from briefing.answer.compose import _spanning

    doc = "Opener: first item; second item; third item; closing prose."
    views = [_passage("d", doc, 8, 40), _passage("d", doc, 20, len(doc)), _passage("d", doc, 0, 30)]
    merged = _spanning(views)
    assert (merged.start, merged.end, merged.text) == (0, len(doc), doc)
