"""Chunking: structure, sentence spans, token limits, overlap and exact offsets."""

from __future__ import annotations

import pytest

from briefing.chunking import MODEL_MAX_TOKENS, chunk_document, embed_text, split_units
from briefing.types import Document


def words(texts):
    """A stand-in token counter for fast tests: one token per word (the real one is tested below)."""
    return [len(t.split()) for t in texts]


def doc(text: str, title: str = "T") -> Document:
    return Document(doc_id="d", text=text, title=title)


SECTIONED = (
    "# Title\n\nIntro sentence one. Intro sentence two is a bit longer than the first.\n\n"
    "## Obligations\n\n"
    + " ".join(f"Providers must do duty number {i} before the deadline." for i in range(40))
    + "\n\n## Penalties\n\n"
    + " ".join(f"Fine level {i} applies to breach type {i}." for i in range(30))
    + "\n\n- A bullet item without a full stop\n- Another bullet item\n"
)


def test_chunks_are_exact_spans_of_the_source():
    d = doc(SECTIONED)
    for chunk in chunk_document(d, words, size=60, overlap=10):
        assert chunk.text == d.text[chunk.start : chunk.end]
        for s in chunk.sentences:
            assert s.text == d.text[s.start : s.end]
            assert chunk.start <= s.start < s.end <= chunk.end


def test_chunks_respect_the_size_and_do_not_cut_sentences():
    d = doc(SECTIONED)
    chunks = chunk_document(d, words, size=60, overlap=10)
    assert len(chunks) > 4
    for chunk in chunks:
        assert chunk.n_tokens <= 60
        assert chunk.text.rstrip()[-1] in ".!?m" or chunk.text.endswith("item")


def test_headings_start_new_chunks_and_give_the_heading_path():
    chunks = chunk_document(doc(SECTIONED), words, size=60, overlap=10)
    headings = {c.heading for c in chunks}
    assert "Title › Obligations" in headings and "Title › Penalties" in headings
    penalties = [c for c in chunks if c.heading.endswith("Penalties")]
    assert all("duty number" not in c.text for c in penalties)


def test_consecutive_chunks_of_a_section_overlap():
    chunks = [
        c
        for c in chunk_document(doc(SECTIONED), words, size=60, overlap=12)
        if c.heading.endswith("Obligations")
    ]
    assert len(chunks) >= 2
    for first, second in zip(chunks, chunks[1:], strict=False):
        assert second.start < first.end, "the next chunk repeats the end of the previous one"


def test_list_items_are_separate_sentences():
    units = split_units("Intro text here.\n- first item\n- second item\n")
    texts = [SECTIONED and u for u in units]
    assert len(texts) == 3


def test_an_overlong_sentence_is_split_at_word_boundaries():
    text = "word " * 500 + "end."
    chunks = chunk_document(doc(text), words, size=100, overlap=0)
    assert len(chunks) >= 5
    assert all(c.n_tokens <= 100 for c in chunks)
    assert all(not c.text.startswith(" ") and not c.text.endswith(" ") for c in chunks)


@pytest.mark.slow
def test_with_the_real_tokenizer_no_chunk_is_truncated_by_the_model():
    from briefing.embedding import token_counter
    from briefing.settings import Settings

    count = token_counter(Settings())
    title = "A fairly long document title about the governance of artificial intelligence"
    d = doc(SECTIONED * 3, title=title)
    head = count([embed_text(title, "x" * 80, "")])[0]
    size = min(220, MODEL_MAX_TOKENS - head)
    for chunk in chunk_document(d, count, size=size, overlap=30):
        assert count([embed_text(title, chunk.heading, chunk.text)])[0] <= MODEL_MAX_TOKENS


def test_a_text_of_only_a_heading_line_is_still_chunked():
    d = doc("# Bessent says the US is ready to discuss AI guardrails with China in Beijing")
    chunks = chunk_document(d, words, size=60, overlap=0)
    assert len(chunks) == 1 and "guardrails" in chunks[0].text


def test_table_rows_are_separate_units():
    text = "Fines:\n\n| Breach | Maximum |\n|---|---|\n| Prohibited practice | EUR 35 million or 7% |\n| Other | EUR 15 million |\n"
    units = [text[u.start : u.end] for u in split_units(text)]
    assert "| Prohibited practice | EUR 35 million or 7% |" in units


def test_a_wrapped_line_starting_with_a_number_does_not_split_a_sentence():
    text = "It meets the requirements: (1) human agency, (2) privacy and\n(3) accountability.\n1. A real item;\n2. another item."
    units = [text[u.start : u.end] for u in split_units(text)]
    assert units[0] == "It meets the requirements: (1) human agency, (2) privacy and\n(3) accountability."
    assert "2. another item." in units


def test_abbreviations_do_not_end_sentences():
    text = "An interagency U.S. delegation went to Geneva. It met the PRC side under Art. 5 rules."
    units = [text[u.start : u.end] for u in split_units(text)]
    assert units == [
        "An interagency U.S. delegation went to Geneva.",
        "It met the PRC side under Art. 5 rules.",
    ]


def test_an_executive_order_abbreviation_does_not_end_a_sentence():
    text = "The President signed Executive Order (E.O.) 14179, Removing Barriers. Agencies comply."
    units = [text[u.start : u.end] for u in split_units(text)]
    assert units[0] == "The President signed Executive Order (E.O.) 14179, Removing Barriers."
