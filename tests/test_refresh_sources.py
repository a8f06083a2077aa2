"""Unusable sources or options: `briefing refresh` exits 2 with one line and changes nothing."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from briefing.cli import app
from tests.conftest import ROOT

runner = CliRunner()

BAD = {
    "bad TOML": ("[[source]\nname = 'x'", "bad TOML"),
    "unknown kind": ("[[source]]\nname = 'x'\nkind = 'ftp-mirror'\n", "'ftp-mirror' found using 'kind'"),
    "missing folder": ("[[source]]\nname = 'x'\nkind = 'folder'\npath = '../nowhere'\n", "folder not found"),
    "folder in corpus": ("[[source]]\nname = 'x'\nkind = 'folder'\npath = '.'\n", "inside the corpus folder"),
    "typo": (
        "[[source]]\nname = 'x'\nkind = 'feed'\nurl = 'https://a.example/f'\nlimt = 3\n",
        "source 'x'.limt",
    ),
    "not http": ("[[source]]\nname = 'x'\nkind = 'url'\nurl = 'file:///etc/passwd'\n", "only http(s) URLs"),
    "same name": ("[[source]]\nname = 'x'\nkind = 'url'\nurl = 'https://a.example/'\n" * 2, "two sources"),
    "bad name": ("[[source]]\nname = 'A B'\nkind = 'url'\nurl = 'https://a.example/'\n", "source 'A B'.name"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unusable_configuration_exits_2_with_one_line(tmp_path, case):
    text, message = BAD[case]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "sources.toml").write_text(text)
    result = runner.invoke(
        app, ["refresh", "--corpus", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index")]
    )
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "no/such/folder"], "no such file or folder"),
        (["--from", str(ROOT / "pyproject.toml"), "--prune"], "--prune needs a folder"),
        (["--from", "gopher://example.org/"], "only http(s) URLs"),
        ([], "no sources file"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "corpus").mkdir()
    result = runner.invoke(
        app, ["refresh", "--corpus", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index"), *args]
    )
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
