"""Command line: ``kb build``, ``kb search``, ``kb query``, ``kb eval``, ``kb calibrate`` and ``kb article``.

Standalone: ``python -m knowledge_index build|search|query|eval|calibrate ...``. In another argparse program::

    subparsers = parser.add_subparsers(dest="command", required=True)
    add_kb_commands(subparsers)
    args = parser.parse_args()
    if is_kb_command(args):
        sys.exit(run_kb_command(args))
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .decision import Calibration
    from .index import KnowledgeIndex

__all__ = [
    "DEFAULT_ARTICLES_DIR",
    "DEFAULT_INDEX_DIR",
    "add_kb_commands",
    "is_kb_command",
    "main",
    "run_kb_command",
]

DEFAULT_ARTICLES_DIR = "training_data/articles"
DEFAULT_INDEX_DIR = ".cache/index"
EXIT_ERROR = 2

# Name of the namespace attribute holding the handler of the chosen kb command.
_HANDLER = "kb_handler"
_COMMANDS = "{build,search,query,eval,calibrate,article}"


def add_kb_commands(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Register the ``kb`` command group (``kb build``, ``kb search``, ...) and return its parser."""
    kb: argparse.ArgumentParser = subparsers.add_parser("kb", help="build, search and evaluate the knowledge base")
    _add_subcommands(kb.add_subparsers(dest="kb_command", metavar=_COMMANDS, required=True))
    return kb


def is_kb_command(args: argparse.Namespace) -> bool:
    return callable(getattr(args, _HANDLER, None))


def run_kb_command(args: argparse.Namespace) -> int:
    """Run the parsed kb command; returns the exit status (2 after printing ``error: ...``)."""
    from .article_files import ArticleNotFound, EditRefused, VersionConflict
    from .articles import ArticleError
    from .csv_files import CsvError
    from .storage import IndexMismatch

    handler = getattr(args, _HANDLER)
    try:
        status: int = handler(args)
    except (ArticleError, IndexMismatch, CsvError, EditRefused, VersionConflict) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except ArticleNotFound as error:
        print(f"error: no article has the id {error.args[0]!r}", file=sys.stderr)
        return EXIT_ERROR
    return status


def main(argv: Sequence[str] | None = None) -> int:
    from . import vectors  # here, not at import: importing this module stays light

    vectors.one_search_thread()
    parser = argparse.ArgumentParser(prog="python -m knowledge_index", description="Knowledge-base index.")
    _add_subcommands(parser.add_subparsers(dest="kb_command", metavar=_COMMANDS, required=True))
    args = parser.parse_args(argv)
    return run_kb_command(args)


def _add_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    build = subparsers.add_parser(
        "build",
        help="(re)build the index when the articles changed",
        description="Build the index from the articles, unless it is already up to date.",
    )
    build.add_argument(
        "--articles", default=DEFAULT_ARTICLES_DIR, metavar="DIR", help="articles directory (default: %(default)s)"
    )
    build.add_argument("--out", default=DEFAULT_INDEX_DIR, metavar="DIR", help="index directory (default: %(default)s)")
    build.add_argument("--force", action="store_true", help="rebuild even when the index is up to date")
    build.set_defaults(**{_HANDLER: _build})

    search = subparsers.add_parser("search", help="search the index", description="Search the index.")
    search.add_argument(
        "--index", default=DEFAULT_INDEX_DIR, metavar="DIR", help="index directory (default: %(default)s)"
    )
    search.add_argument("-k", type=_positive_int, default=3, help="number of articles to show (default: %(default)s)")
    search.add_argument("query", nargs="+", metavar="QUERY", help="the question to search for")
    search.set_defaults(**{_HANDLER: _search})
    _add_evaluation_subcommands(subparsers)
    _add_article_subcommands(subparsers)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _load_index(directory: str) -> KnowledgeIndex:
    from .index import KnowledgeIndex, production_embedders

    english, multilingual = production_embedders()
    return KnowledgeIndex.load(directory, english, multilingual)


def _build(args: argparse.Namespace) -> int:
    from .index import ensure_index, production_embedders

    started = time.perf_counter()
    english, multilingual = production_embedders()
    index, rebuilt = ensure_index(args.articles, args.out, english, force=args.force, multilingual=multilingual,
                                  progress=_progress_printer(started))
    manifest = index.manifest
    print(f"rebuilt: {'yes' if rebuilt else 'no (up to date)'}")
    print(f"index: {index.directory}")
    print(f"articles: {manifest.articles}")
    print(f"entries: {manifest.entries}")
    print(f"model: {manifest.model}")
    print(f"multilingual model: {manifest.multilingual.get('model', '-')}")
    print(f"fingerprint: {manifest.fingerprint}")
    print(f"built_at: {manifest.built_at}")
    print(f"seconds: {time.perf_counter() - started:.2f}")
    return 0


def _progress_printer(started: float, every: float = 1.0) -> Callable[[int, int], None]:
    """Progress of a build on stderr: a line at most every ``every`` seconds, and one at the end."""
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] >= every:
            last[0] = now
            rate = done / max(now - started, 1e-9)
            print(f"embedding: {done}/{total} texts ({100 * done / total:.0f} %, {rate:.0f}/s)", file=sys.stderr,
                  flush=True)

    return show


def _search(args: argparse.Namespace) -> int:
    index = _load_index(args.index)
    hits = index.search(" ".join(args.query), k=args.k)
    if not hits:
        print("no results")
        return 0
    width = max(len(hit.article_id) for hit in hits)
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}  {hit.score:.3f}  {hit.article_id:<{width}}  {hit.title}")
    return 0


# --- query, eval, calibrate (docs/evaluation.md) -----------------------------------------------


def _add_evaluation_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    from .devsets import DEFAULT_DATASETS

    thresholds_help = "thresholds JSON for English questions (default: the shipped knowledge_index/thresholds.json)"
    multilingual_help = ("thresholds JSON for questions in other languages "
                         "(default: the shipped knowledge_index/thresholds-multilingual.json)")
    query = subparsers.add_parser("query", help="ranked articles and the bot's decision for a question")
    query.add_argument("--index", default=DEFAULT_INDEX_DIR, metavar="DIR", help="default: %(default)s")
    query.add_argument("-k", type=_positive_int, default=3, help="number of articles to show (default: %(default)s)")
    query.add_argument("--thresholds", metavar="FILE", help="thresholds JSON (default: the index's, for the "
                                                            "question's language)")
    query.add_argument("query", nargs="+", metavar="QUERY", help="the question")
    query.set_defaults(**{_HANDLER: _query})

    evaluate = subparsers.add_parser(
        "eval",
        help="evaluate a knowledge base (sentence,label CSVs), or run the development suite",
        description="Build an index from KB.csv and run every question of TEST.csv through the bot's decision "
        "with the shipped thresholds; or, with --suite dev, compare the project with two baselines on the "
        "development sets.",
    )
    evaluate.add_argument("--kb", metavar="KB.csv", help="knowledge base: sentence,label (one article per label)")
    evaluate.add_argument("--queries", metavar="TEST.csv", help="questions: sentence,label")
    evaluate.add_argument("--oos-label", metavar="LABEL", help="test label of questions that should be escalated")
    evaluate.add_argument("--json", metavar="OUT.json", help="write per-query rows and metrics here")
    evaluate.add_argument("--thresholds", metavar="FILE", help=thresholds_help)
    evaluate.add_argument("--multilingual-thresholds", metavar="FILE", help=multilingual_help)
    evaluate.add_argument("--precision-target", type=_precision_target, metavar="P",
                          help="answer precision target the calibrated thresholds are chosen for (default: the "
                          "bot's default, decision.DEFAULT_PRECISION_TARGET)")
    evaluate.add_argument("--suite", choices=["dev"], help="run the development suite instead of --kb/--queries")
    evaluate.add_argument("--datasets", default=DEFAULT_DATASETS, metavar="DIR", help="(suite) default: %(default)s")
    evaluate.add_argument("--latency-sample", type=int, default=200, metavar="N",
                          help="single queries timed per set (default: %(default)s)")
    evaluate.set_defaults(**{_HANDLER: _eval})

    calibrate = subparsers.add_parser(
        "calibrate", help="calibrate the decision thresholds on the development sets (never test splits)"
    )
    calibrate.add_argument("--datasets", default=DEFAULT_DATASETS, metavar="DIR", help="default: %(default)s")
    calibrate.add_argument("--out", metavar="FILE", help="default: the shipped knowledge_index/thresholds.json")
    calibrate.add_argument("--multilingual-out", metavar="FILE",
                           help="default: the shipped knowledge_index/thresholds-multilingual.json")
    calibrate.add_argument("--objective", choices=["precision", "accuracy"], default="precision",
                           help="precision: a confidence model and thresholds for every answer precision target "
                           "(default); accuracy: thresholds on the similarity for overall accuracy (the method "
                           "before, for comparison)")
    calibrate.set_defaults(**{_HANDLER: _calibrate})


def _calibrations(path: str | None, multilingual_path: str | None = None) -> tuple[Calibration, Calibration]:
    """The English and the multilingual calibration: from the given files, else the shipped ones."""
    from .decision import MULTILINGUAL_THRESHOLDS_FILE, THRESHOLDS_FILE, load_calibration

    english = load_calibration(path or THRESHOLDS_FILE)
    return english, load_calibration(multilingual_path or MULTILINGUAL_THRESHOLDS_FILE)


def _precision_target(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"an answer precision target is above 0 and below 1, got {text}")
    return value


def _query(args: argparse.Namespace) -> int:
    from .decision import decide, load_thresholds

    index = _load_index(args.index)
    query = " ".join(args.query)
    route = index.route(query)
    hits = index.search(query, k=max(args.k, 2))
    decision = decide(hits, load_thresholds(args.thresholds) if args.thresholds else route.thresholds)
    print(f"language: {route.language} (model: {route.model})")
    width = max((len(hit.article_id) for hit in hits), default=0)
    print(f"rank  confidence  similarity  {'article':<{width}}  title")
    for rank, hit in enumerate(hits[: args.k], start=1):
        print(f"{rank:>4}  {hit.score:>10.3f}  {hit.similarity:>10.3f}  {hit.article_id:<{width}}  {hit.title}")
    offered = f" {', '.join(decision.article_ids)}" if decision.article_ids else ""
    print(f"decision: {decision.kind}{offered} ({decision.reason})")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import json

    from .baselines import CachedEmbedder, ProductionRanker
    from .decision import DEFAULT_PRECISION_TARGET
    from .evaluation import article_ids, check_labels, evaluate, read_labeled_csv, report, risk_coverage
    from .index import production_embedders

    if args.suite:
        return _suite(args)
    if not (args.kb and args.queries):
        print("error: kb eval needs --kb and --queries, or --suite dev", file=sys.stderr)
        return EXIT_ERROR
    ignored: list[str] = []  # what the CSV reader ignored, as notes
    kb, queries = read_labeled_csv(args.kb, ignored.append), read_labeled_csv(args.queries, ignored.append)
    for note in ignored:
        print(f"warning: {note}", file=sys.stderr)
    check_labels(kb, queries, args.oos_label, (args.kb, args.queries))
    english, multilingual = _calibrations(args.thresholds, args.multilingual_thresholds)
    ids = article_ids([row.label for row in kb])
    models = production_embedders()
    target = args.precision_target or DEFAULT_PRECISION_TARGET
    ranker = ProductionRanker(kb, ids, *map(CachedEmbedder, models), thresholds=english,
                              multilingual_thresholds=multilingual, precision_target=target)
    results, summary = evaluate(kb, queries, args.oos_label, ranker, latency_sample=args.latency_sample)
    for key, value in summary.items():
        print(f"{key}: {value}")
    if args.json:
        head = {"kb": args.kb, "queries": args.queries, "oos_label": args.oos_label, "ignored": ignored,
                "models": [model.name for model in models],
                "precision_target": target,
                "thresholds": english.at(target).to_json(),
                "multilingual_thresholds": multilingual.at(target).to_json(),
                "risk_coverage": dict(zip(("coverage", "risk"), risk_coverage(
                    [r.decision.confidence for r in results], [r.rank == 1 for r in results]), strict=True))}
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({**head, **report(results, summary, ids)}, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
    return 0


def _suite(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from .decision import DEFAULT_PRECISION_TARGET
    from .index import production_embedders
    from .suite import run_suite, table

    if not Path(args.datasets).is_dir():
        print(f"error: no datasets directory {args.datasets} (see --datasets)", file=sys.stderr)
        return EXIT_ERROR
    shipped = _calibrations(args.thresholds, args.multilingual_thresholds)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    result = run_suite(args.datasets, *production_embedders(), shipped, latency_sample=args.latency_sample, log=log,
                       target=args.precision_target or DEFAULT_PRECISION_TARGET)
    print(table(result))
    for method, thresholds in result.thresholds.items():
        print(f"thresholds {method}: {thresholds.to_json()}")
    now = result.recalibrated.english, result.recalibrated.multilingual
    same = now == shipped
    print(f"shipped calibration matches a calibration in this run: {'yes' if same else 'no (run kb calibrate)'}")
    print(f"seconds: {result.seconds:.0f}")
    if args.json:
        data = dataclasses.asdict(result)
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .calibration import calibrate_project
    from .decision import MULTILINGUAL_THRESHOLDS_FILE, THRESHOLDS_FILE, save_calibration
    from .index import production_embedders

    if not Path(args.datasets).is_dir():
        print(f"error: no datasets directory {args.datasets} (see --datasets)", file=sys.stderr)
        return EXIT_ERROR
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    found = calibrate_project(args.datasets, *production_embedders(), log, objective=args.objective)
    for name, calibration, summary, out in (
        ("English", found.english, found.english_summary, args.out or THRESHOLDS_FILE),
        ("multilingual", found.multilingual, found.multilingual_summary, args.multilingual_out
         or MULTILINGUAL_THRESHOLDS_FILE),
    ):
        save_calibration(calibration, out, summary=summary)
        print(f"{name} thresholds at the default target: {calibration.thresholds.to_json()}")
        print(f"{name} calibration: {summary}")
        print(f"written to {out}")
    return 0


# --- article: the article files, as editors see them (docs/editing.md) -------------------------


def _add_article_subcommands(subparsers: argparse._SubParsersAction[Any]) -> None:
    article = subparsers.add_parser("article", help="list, show, check the article files; add example questions",
                                    description="The article files, through the same checks as the editors' API "
                                    "(docs/editing.md).")
    commands = article.add_subparsers(dest="article_command", metavar="{list,show,add-question,check}", required=True)
    articles_help = "articles directory (default: %(default)s)"
    listing = commands.add_parser("list", help="every article, or those containing every word of QUERY")
    listing.add_argument("query", nargs="*", metavar="QUERY")
    show = commands.add_parser("show", help="an article's file, its path and version")
    show.add_argument("article_id", metavar="ID")
    add = commands.add_parser("add-question", help="append an example question to an article")
    add.add_argument("article_id", metavar="ID")
    add.add_argument("question", nargs="+", metavar="QUESTION")
    add.add_argument("--version", help="refuse when the file is no longer at this version (from `show`)")
    check = commands.add_parser("check", help="validate every article file; print file:line for each problem")
    for command, handler in ((listing, _article_list), (show, _article_show), (add, _article_add_question),
                             (check, _article_check)):
        command.add_argument("--articles", default=DEFAULT_ARTICLES_DIR, metavar="DIR", help=articles_help)
        command.set_defaults(**{_HANDLER: handler})


def _article_list(args: argparse.Namespace) -> int:
    from .article_files import ArticleFiles

    found = ArticleFiles(args.articles).search(" ".join(args.query))
    width = max((len(item.article.id) for item in found), default=0)
    for item in found:
        a = item.article
        print(f"{a.id:<{width}}  {a.locale:<5}  {len(a.questions):>3} questions  {item.path}  {a.title}")
    print(f"{len(found)} articles")
    return 0


def _article_show(args: argparse.Namespace) -> int:
    from .article_files import ArticleFiles

    item = ArticleFiles(args.articles).get(args.article_id)
    print(f"path: {item.path}")
    print(f"version: {item.version}")
    print()
    print(item.text, end="")
    return 0


def _article_add_question(args: argparse.Namespace) -> int:
    from .article_files import ArticleFiles

    item = ArticleFiles(args.articles).add_question(args.article_id, " ".join(args.question), args.version)
    print(f"{item.path}: {len(item.article.questions)} questions (version {item.version})")
    return 0


def _article_check(args: argparse.Namespace) -> int:
    from .article_files import ArticleFiles

    errors = ArticleFiles(args.articles).check()
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} invalid", file=sys.stderr)
        return 1
    print("all article files are valid")
    return 0
