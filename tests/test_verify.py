"""Citation verification: fact extractor, sentence splitting, hand-checked verdicts on real passages."""

from __future__ import annotations

import pytest

from briefing.verify import (
    FALLBACK_NOTE,
    FLAG,
    Assembler,
    ClaimStream,
    conclude,
    entities,
    extract,
    split_claims,
)


def keys(text: str) -> list[str]:
    return [f.key for f in extract(text)[0]]


# -- the fact extractor ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10^26 FLOP", "10²⁶ FLOP"),
        ("10^26 FLOP", "1e26 FLOP"),
        ("EUR 35 million", "€35 million"),
        ("EUR 35 million", "35 million euros"),
        ("EUR 35 million", "EUR 35,000,000"),
        ("7%", "7 per cent"),
        ("five Member States", "5 Member States"),
        ("twenty-five firms", "25 firms"),
        ("twenty-one firms", "21 firms"),
        ("2 August 2025", "August 2, 2025"),
        ("2 August 2025", "2025-08-02"),
        ("2nd of August 2025", "2 Aug. 2025"),
    ],
)
def test_same_fact_written_two_ways(a: str, b: str) -> None:
    assert keys(a) == keys(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10^26", "10^25"),
        ("EUR 35 million", "USD 35 million"),
        ("EUR 35 million", "EUR 35 billion"),
        ("7%", "7.5%"),
        ("2 August 2025", "3 August 2025"),
        ("2 August 2025", "2 August 2026"),
        ("March 2024", "May 2024"),
    ],
)
def test_different_facts_differ(a: str, b: str) -> None:
    assert keys(a) != keys(b)


def test_a_date_is_one_fact_not_three_numbers() -> None:
    facts, rest = extract("It has applied since 2 August 2025 under Article 99(3).")
    assert [(f.surface, f.key) for f in facts] == [("2 August 2025", "2025-08-02"), ("99", "99"), ("3", "3")]
    assert "2025" not in rest


def test_one_is_not_read_as_a_number() -> None:
    assert keys("One of the tiers applies to SMEs.") == []


def test_entities_are_names_and_acronyms_but_not_an_opening_word() -> None:
    found = entities("Penalties are set by the European Data Protection Supervisor, the U.S. and the FTC.")
    assert found == {"european data protection supervisor", "us", "ftc"}
    assert entities("GPAI providers answer to the AI Office.") == {"gpai", "ai office"}
    assert entities("The Commission's power applies later.") == {"commission"}


# -- splitting drafts into claims ----------------------------------------------------------------------
def test_split_claims_reads_markers_abbreviations_and_bullets() -> None:
    draft = (
        "Sure!\n\n- The cap is EUR 35 million [1]. It applies from 2 Aug. 2025. [2] The U.S. and the EU"
        " agreed [1][3].\n2. Fines reach 7% of turnover [1, 2]."
    )
    claims = split_claims(draft)
    assert [(c.text, c.cites) for c in claims] == [
        ("Sure!", []),
        ("The cap is EUR 35 million.", [1]),
        ("It applies from 2 Aug. 2025.", [2]),
        ("The U.S. and the EU agreed.", [1, 3]),
        ("Fines reach 7% of turnover.", [1, 2]),
    ]
    assert [c.gap for c in claims] == [" ", "\n\n", " ", " ", "\n\n"]


def test_claim_stream_gives_each_sentence_once_its_markers_are_in() -> None:
    draft = "The cap is EUR 35 million. [1] It applies from 2 Aug. 2025 [2]. No citation here."
    stream, seen = ClaimStream(), []
    for i, char in enumerate(draft):
        finished = stream.feed(char)
        seen += [(i, c.text, c.cites) for c in finished]
    seen += [(len(draft), c.text, c.cites) for c in stream.close()]
    assert [(t, c) for _, t, c in seen] == [(c.text, c.cites) for c in split_claims(draft)]
    assert seen[0][0] > draft.index("[1]")  # not given out before its marker arrived


# -- verdicts on real passages ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def verifier(mini_settings):
    from briefing.retrieve import Searcher
    from briefing.verify import Verifier

    return Verifier(mini_settings, Searcher(mini_settings).manifest)


@pytest.fixture(scope="module")
def passages(verifier):
    """[1] the penalty table, [2] EDPS and GPAI fines, [3] the opening (dates) of the EU penalties article."""
    return [
        _passage(verifier.manifest, phrase)
        for phrase in (
            "EUR 35 million or 7% of turnover",
            "The European Data Protection Supervisor may fine",
            "It has applied since 2 August 2025",
        )
    ]


def _passage(manifest, phrase: str):
    from briefing.types import Passage

    docs = manifest.documents()
    for chunk_id, doc_id, start, end, heading, text, _ in manifest.chunks():
        if phrase in text:
            return Passage(chunk_id, doc_id, text, 1.0, 1, start, end, heading, docs[doc_id].meta())
    raise AssertionError(f"no chunk holds {phrase!r}")


@pytest.fixture(scope="module")
def evidence(verifier, passages):
    return verifier.evidence(passages)


def verdict(verifier, evidence, sentence: str):
    (result,) = verifier.check(split_claims(sentence), evidence)
    return result


def verify_draft(verifier, evidence, draft: str, mode: str = "drop") -> Assembler:
    assembler = Assembler(evidence, mode)
    for result in verifier.check(split_claims(draft), evidence):
        assembler.add(result)
    return assembler


@pytest.mark.parametrize(
    "sentence",
    [
        "The maximum fine for a prohibited practice is EUR 35 million or 7% of turnover [1].",
        "Breaching operator obligations can cost EUR 15 million or three percent of turnover [1].",
        "The European Data Protection Supervisor can fine EU institutions up to EUR 1.5 million for"
        " prohibited practices [2].",
        "The penalty rules have applied since 2 August 2025 [3].",
        "Under the EU AI Act a prohibited practice costs up to EUR 35 million [1].",  # name from the title
        "The Commission can fine GPAI providers from 2 August 2026 [3].",
        "Prohibited practices cost up to EUR 35 million [1], and EU bodies face up to EUR 1.5 million [2].",
    ],
)
def test_faithful_paraphrase_is_kept(verifier, evidence, sentence: str) -> None:
    result = verdict(verifier, evidence, sentence)
    assert result.supported, result.reason


@pytest.mark.parametrize(
    ("sentence", "culprit"),
    [
        (
            "The maximum fine for a prohibited practice is EUR 40 million or 7% of turnover [1].",
            "EUR 40 million",
        ),
        (
            "The maximum fine for a prohibited practice is USD 35 million or 7% of turnover [1].",
            "USD 35 million",
        ),
        ("The maximum fine for a prohibited practice is EUR 35 million or 9% of turnover [1].", "9%"),
        ("The penalty rules have applied since 3 August 2025 [3].", "3 August 2025"),
        ("The Commission can fine GPAI providers from 2 August 2027 [3].", "2 August 2027"),
        (
            "The Federal Trade Commission can fine EU institutions up to EUR 1.5 million for prohibited"
            " practices [2].",
            "federal trade commission",
        ),
        (
            "The European Data Protection Supervisor can fine EU institutions up to EUR 1.5 million [1].",
            "EUR 1.5 million",
        ),  # true, but not in the passage it cites
    ],
)
def test_unsupported_fact_is_caught(verifier, evidence, sentence: str, culprit: str) -> None:
    result = verdict(verifier, evidence, sentence)
    assert not result.supported
    assert culprit in result.reason


def test_off_topic_sentence_is_caught(verifier, evidence) -> None:
    result = verdict(verifier, evidence, "Large language models can write poems about the sea [1].")
    assert not result.supported
    assert "not close" in result.reason


def test_sentence_without_citation_or_with_a_missing_passage_is_unsupported(verifier, evidence) -> None:
    plain = verdict(verifier, evidence, "Penalties must be effective, proportionate and dissuasive.")
    missing = verdict(verifier, evidence, "Penalties must be effective, proportionate and dissuasive [9].")
    assert (plain.supported, plain.reason) == (False, "no citation")
    assert not missing.supported
    assert "[9]" in missing.reason


DRAFT = (
    "Here is what the passages say. "
    "The European Data Protection Supervisor can fine EU institutions up to EUR 1.5 million for prohibited"
    " practices [2]. "
    "The maximum fine for a prohibited practice is EUR 35 million or 7% of turnover [1]. "
    "The maximum fine for a prohibited practice is EUR 40 million [1]. "
    "Fines are set by the national authorities [9]."
)


def test_drop_mode_removes_unsupported_and_renumbers(verifier, evidence, passages) -> None:
    result = verify_draft(verifier, evidence, DRAFT, "drop")
    assert result.counts == {"checked": 5, "kept": 2, "dropped": 3, "flagged": 0}
    assert result.text == (
        "The European Data Protection Supervisor can fine EU institutions up to EUR 1.5 million for"
        " prohibited practices. [1] The maximum fine for a prohibited practice is EUR 35 million or 7% of"
        " turnover. [2]"
    )
    first, second = result.citations()
    assert (first.n, first.chunk_id, second.n, second.chunk_id) == (
        1,
        passages[1].chunk_id,
        2,
        passages[0].chunk_id,
    )
    assert first.passage == passages[1].text  # verbatim
    assert first.quote.startswith("The European Data Protection Supervisor may fine EU institutions")
    assert "EUR 35 million or 7% of turnover" in second.quote
    assert not result.enough()  # 2 of 5 supported: below half


def test_flag_mode_keeps_and_flags(verifier, evidence) -> None:
    result = verify_draft(verifier, evidence, DRAFT, "flag")
    assert result.counts == {"checked": 5, "kept": 2, "dropped": 0, "flagged": 3}
    assert result.text.count(FLAG) == 3
    assert f"EUR 40 million. [2]{FLAG}" in result.text  # the [1] it cited is shown as [2]
    assert f"by the national authorities.{FLAG}" in result.text  # the missing [9] is not shown
    assert [c.n for c in result.citations()] == [1, 2]


def _extractive(question: str = "q"):
    from briefing.types import Answer

    return Answer(
        question, "An extractive sentence. [1]", False, "extractive", [], [], standalone_question=question
    )


def test_conclude_shows_the_verified_answer_when_enough_survives(verifier, evidence) -> None:
    assembler = verify_draft(
        verifier, evidence, DRAFT.split(" The maximum fine for a prohibited practice is EUR 40")[0]
    )
    answer = conclude(assembler, _extractive(), "llm:test")
    assert answer.mode == "llm:test"
    assert answer.verification == {"checked": 3, "kept": 2, "dropped": 1, "flagged": 0, "fallback": 0}
    assert answer.answer == assembler.text
    assert [c.n for c in answer.citations] == [1, 2]


def test_conclude_falls_back_to_the_extractive_answer_when_nothing_survives(verifier, evidence) -> None:
    assembler = verify_draft(verifier, evidence, "PWNED. Fines are set by the national authorities [9].")
    answer = conclude(assembler, _extractive(), "llm:test")
    assert answer.verification == {"checked": 2, "kept": 0, "dropped": 2, "flagged": 0, "fallback": 1}
    assert answer.answer == f"{FALLBACK_NOTE}\n\nAn extractive sentence. [1]"
    assert answer.mode == "llm:test"
    assert "PWNED" not in answer.answer


def test_conclude_falls_back_when_the_model_failed(verifier, evidence) -> None:
    answer = conclude(Assembler(evidence), _extractive(), "llm:test", failure="ConnectError")
    assert answer.answer.startswith("The language model failed (ConnectError)")
    assert answer.verification["fallback"] == 1
