"""The learned answer model: fitting, the model file, folds, and `briefing train` / `eval --cv`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from briefing.answer import features, train
from briefing.answer.model import MODEL_PATH, AnswerModel, Linear
from briefing.cli import app
from briefing.errors import ModelFileError

STARTER = Path(__file__).resolve().parents[1] / "briefing" / "data" / "starter-questions.jsonl"


def test_logistic_fit_learns_which_feature_matters():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 1] + 0.3 * rng.normal(size=400) > 0).astype(float)
    model = Linear.fit(x, y, ["a", "b", "c"])
    assert abs(model.coef[1]) > 5 * max(abs(model.coef[0]), abs(model.coef[2]))
    assert ((model.prob(x) > 0.5) == y).mean() > 0.85  # the noise allows about 0.9


def test_the_shipped_model_matches_the_features_of_this_code():
    model = AnswerModel.load()
    assert model.ranker.names == features.NAMES
    assert model.fitted_on["questions"] >= 300 and "cross_validated" in model.fitted_on


def test_a_missing_or_stale_model_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ModelFileError, match="briefing train"):
        AnswerModel.load(tmp_path / "none.json")
    stale = json.loads(MODEL_PATH.read_text()) | {"features_version": features.VERSION - 1}
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    with pytest.raises(ModelFileError, match="fitted on other features"):
        AnswerModel.load(tmp_path / "stale.json")


def test_folds_are_stable_and_balanced():
    ids = [f"q-{i}" for i in range(500)]
    folds = [train.fold_of(i, 5) for i in ids]
    assert folds == [train.fold_of(i, 5) for i in ids]
    assert min(folds.count(f) for f in range(5)) > 70


@pytest.mark.slow
def test_cross_validation_fits_on_training_folds_only(mini_engine, mini_settings, monkeypatch):
    items = train.load_items([STARTER])
    examples = train.collect(mini_engine, items)
    seen: list[set[str]] = []
    fit = train.fit
    monkeypatch.setattr(
        train, "fit", lambda ex, words: seen.append({e.item["id"] for e in ex}) or fit(ex, words)
    )
    report = train.cross_validate(examples, 3, {}, mini_settings.answer_max_words)
    held_out = [{i["id"] for i in items if train.fold_of(i["id"], 3) == f} for f in range(3)]
    assert all(not (fitted & test) for fitted, test in zip(seen, held_out, strict=True))
    assert set(report["metrics"]["answer_hit"]) == {"mean", "min", "max"}
    assert report["metrics"]["answer_hit"]["min"] <= report["metrics"]["answer_hit"]["mean"]


@pytest.mark.slow
def test_train_writes_a_model_that_the_engine_answers_with(mini_settings, tmp_path):
    from briefing.answer import Answerer

    path = tmp_path / "model.json"
    args = ["--questions", str(STARTER), "--corpus", str(mini_settings.corpus_dir)]
    args += ["--index-dir", str(mini_settings.index_dir), "--cv", "2", "-o", str(path)]
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    assert "2-fold cross-validation" in result.output and "answer_hit" in result.output
    model = AnswerModel.load(path)
    assert model.fitted_on["questions"] == 18 and model.fitted_on["k"] == 2
    answer = Answerer(mini_settings, model=model).ask("How many countries agreed the Bletchley Declaration?")
    assert not answer.abstained and answer.citations


@pytest.mark.slow
def test_eval_cv_reports_the_range_over_folds(mini_settings, tmp_path):
    out = tmp_path / "eval.json"
    args = ["--questions", str(STARTER), "--corpus", str(mini_settings.corpus_dir)]
    args += ["--index-dir", str(mini_settings.index_dir), "--cv", "3", "-o", str(out)]
    result = CliRunner().invoke(
        app, ["eval", *args, "--briefs", str(STARTER.with_name("starter-briefs.jsonl"))]
    )
    assert result.exit_code == 0, result.output
    results = json.loads(out.read_text())
    assert results["cv"]["k"] == 3 and len(results["cv"]["folds"]) == 3
    assert results["answers"]["n_questions"] == 18 and results["answers"]["in_sample"] is False
    assert len(results["briefs"]["topics"]) == 2 and results["briefs"]["must_cover"] > 0
    assert set(results["briefs"]["quality"]) >= {
        "fragments",
        "headings",
        "enacting_or_sponsors",
        "undated_developments",
    }


def test_brief_quality_counts_what_reads_badly():
    from briefing.brief import Brief, BriefItem, Section
    from briefing.evaluate import brief_quality

    items = [
        "Be it enacted by the General Assembly of the State of Colorado: SECTION 1.",
        "Developer duty to avoid algorithmic discrimination",
        "deepfakes and public-interest text (Article 50(4)).",
        "The ban on social scoring has applied since 2 February 2025 across the Union.",
    ]
    sections = [
        Section("bottom_line", "Bottom line", [BriefItem(items[0], [1])]),
        Section("developments", "Key developments", [BriefItem(t, [1]) for t in items[1:]]),
    ]
    quality = brief_quality(Brief("t", "t", "2026-12-02", sections, []))
    assert quality == {
        "fragments": 2,
        "headings": 1,
        "enacting_or_sponsors": 1,
        "undated_developments": 2,
        "items": 4,
    }


@pytest.mark.slow
def test_ask_without_a_model_file_is_a_one_line_error(mini_settings, tmp_path, monkeypatch):
    import briefing.answer.model as model_module
    from briefing import service

    monkeypatch.setattr(model_module, "MODEL_PATH", tmp_path / "none.json")
    monkeypatch.setattr(service, "_engines", {})
    result = CliRunner().invoke(app, ["ask", "--index-dir", str(mini_settings.index_dir), "Who signed?"])
    assert result.exit_code == 2
    assert "no answer model" in result.output and "briefing train" in result.output
    assert "Traceback" not in result.output
