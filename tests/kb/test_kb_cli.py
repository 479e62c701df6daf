"""Tests for the `kb` commands: build, search, errors without a traceback, and the commands in another program."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge_index.articles import fingerprint, load_articles
from knowledge_index.cli import add_kb_commands, is_kb_command, run_kb_command
from tests.kb.kb_fixture import FIXTURE_ENTRIES, FIXTURES, GOOD, ROOT, replace_line, write

# --- command line ------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knowledge_index", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    directory = tmp_path_factory.mktemp("cli") / "index"
    yield directory, run_cli("build", "--articles", str(FIXTURES), "--out", str(directory))


def output_fields(stdout: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in stdout.splitlines())


def test_cli_build(cli_index: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    directory, result = cli_index
    assert result.returncode == 0, result.stderr
    fields = output_fields(result.stdout)
    assert fields["rebuilt"] == "yes"
    assert fields["index"] == str(directory)
    assert fields["articles"] == "5"
    assert fields["entries"] == str(FIXTURE_ENTRIES)
    assert fields["model"] == "all-MiniLM-L6-v2"
    assert fields["fingerprint"] == fingerprint(load_articles(FIXTURES))
    # Progress on stderr, in both spaces (English and multilingual), ending with all texts embedded.
    texts = 2 * FIXTURE_ENTRIES
    assert result.stderr.splitlines()[-1].startswith(f"embedding: {texts}/{texts} texts (100 %")

    again = run_cli("build", "--articles", str(FIXTURES), "--out", str(directory))
    assert again.returncode == 0, again.stderr
    assert output_fields(again.stdout)["rebuilt"] == "no (up to date)"
    assert again.stderr == ""


def test_cli_search(cli_index: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    directory, _ = cli_index
    query = ["how", "do", "I", "put", "my", "table", "together?"]
    result = run_cli("search", "--index", str(directory), "-k", "2", *query)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    rows = [line.split(maxsplit=3) for line in lines]
    assert [row[0] for row in rows] == ["1", "2"]
    assert rows[0][2:] == ["table-assembly", "Assembling a dining table"]
    scores = [float(row[1]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert result.stderr == ""


def test_cli_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    missing = run_cli("search", "--index", str(tmp_path / "missing"), "bike")
    assert missing.returncode == 2
    assert missing.stderr == f"error: no index at {tmp_path / 'missing'}: build it first\n"
    assert missing.stdout == ""

    bad = write(tmp_path / "articles", "bad.md", replace_line(GOOD, 2, "id: Bad_Id"))
    invalid = run_cli("build", "--articles", str(tmp_path / "articles"), "--out", str(tmp_path / "index"))
    assert invalid.returncode == 2
    assert invalid.stderr.startswith(f"error: {bad}:2: id 'Bad_Id' must be")
    assert "Traceback" not in invalid.stderr
    assert not (tmp_path / "index").exists()


def test_kb_commands_in_another_program(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="app")
    subparsers = parser.add_subparsers(dest="command", required=True)
    subparsers.add_parser("serve")
    add_kb_commands(subparsers)

    build = parser.parse_args(["kb", "build"])
    assert is_kb_command(build)
    assert (build.articles, build.out, build.force) == ("training_data/articles", ".cache/index", False)
    assert not is_kb_command(parser.parse_args(["serve"]))

    none = str(tmp_path / "none")
    search = parser.parse_args(["kb", "search", "--index", none, "-k", "5", "where", "is", "my", "order"])
    assert (search.index, search.k, search.query) == (none, 5, ["where", "is", "my", "order"])
    assert run_kb_command(search) == 2
    assert capsys.readouterr().err.startswith("error: no index at")

    with pytest.raises(SystemExit):
        parser.parse_args(["kb", "search", "-k", "0", "bike"])


def test_package_import_is_light() -> None:
    code = (
        "import sys, knowledge_index, knowledge_index.cli, knowledge_index.articles\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'faiss', 'numpy') if m in sys.modules)\n"
        "print(heavy, knowledge_index.ArticleError.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout == "[] ArticleError\n"
