"""The grounded answer engine: answer units ranked by a learned model, quoted and cited.

Sentence selection is written here because LlamaIndex has no extractive answerer that keeps
verbatim sentence spans and passage citations (its SentenceEmbeddingOptimizer drops the spans).
"""

from briefing.answer.engine import NOT_COVERED, Answerer
from briefing.answer.question import Question, standalone_question, validate_question

__all__ = ["NOT_COVERED", "Answerer", "Question", "standalone_question", "validate_question"]
