"""Tests for the index on disk: rebuilding only when the articles change, refusing a mismatched or
corrupt index, and publishing versions that readers never see half-written."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

import faiss
import pytest

from knowledge_index.articles import fingerprint, load_articles
from knowledge_index.embedder import MiniLMEmbedder
from knowledge_index.index import IndexMismatch, KnowledgeIndex, ensure_index
from knowledge_index.storage import (
    GRACE,
    KEEP,
    StoredIndex,
    read_index,
    read_manifest,
    set_current,
    versions,
    write_index,
)
from tests.kb.kb_fixture import FIXTURE_IDS, FIXTURES, MODEL, VERSION_NAME, live, write

# --- rebuilding and refusing -------------------------------------------------------------------


def test_ensure_index_rebuilds_only_when_articles_change(
    kb_copy: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    directory = tmp_path / "index"

    first, rebuilt = ensure_index(kb_copy, directory, embedder)
    assert rebuilt
    again, rebuilt = ensure_index(kb_copy, directory, embedder)
    assert not rebuilt
    assert (again.manifest, again.version) == (first.manifest, first.version)

    warranty = kb_copy / "warranty.md"
    warranty.write_text(warranty.read_text(encoding="utf-8").replace("2-year", "3-year"), encoding="utf-8")
    changed, rebuilt = ensure_index(kb_copy, directory, embedder)
    assert rebuilt
    assert changed.manifest.fingerprint == fingerprint(load_articles(kb_copy)) != first.manifest.fingerprint
    record = changed.article("warranty")
    assert record is not None and "3-year" in record.body
    assert changed.version != first.version
    assert versions(directory) == [first.version, changed.version]
    assert json.loads((live(directory) / "manifest.json").read_text(encoding="utf-8"))["fingerprint"] == (
        changed.manifest.fingerprint
    )

    # Moving the articles (paths change, content does not) needs no rebuild.
    moved = tmp_path / "moved"
    kb_copy.rename(moved)
    assert ensure_index(moved, directory, embedder)[1] is False
    assert ensure_index(moved, directory, embedder, force=True)[1] is True


def tamper_manifest(directory: Path, **changes: object) -> None:
    path = live(directory) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_load_refuses_other_model(kb_copy: Path, tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    directory = tmp_path / "index"
    ensure_index(kb_copy, directory, embedder)
    tamper_manifest(directory, model="other-model")

    message = f"has model 'other-model', expected '{MODEL}': rebuild the index"
    with pytest.raises(IndexMismatch, match=re.escape(message)):
        KnowledgeIndex.load(directory, embedder)

    # ensure_index does not use it either: it rebuilds with the current model.
    index, rebuilt = ensure_index(kb_copy, directory, embedder)
    assert rebuilt
    assert index.manifest.model == MODEL


def test_load_refuses_other_dimension_missing_and_corrupt_files(
    built: KnowledgeIndex, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    def copy() -> Path:
        target = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        shutil.copytree(built.directory, target)
        return target

    with pytest.raises(IndexMismatch, match="no index at"):
        KnowledgeIndex.load(tmp_path / "missing", embedder)

    directory = copy()
    tamper_manifest(directory, dimension=768)
    with pytest.raises(IndexMismatch, match="has dimension 768, expected 384"):
        KnowledgeIndex.load(directory, embedder)

    directory = copy()
    tamper_manifest(directory, format=1)  # before topic prototypes
    with pytest.raises(IndexMismatch, match="format 1, expected 2"):
        KnowledgeIndex.load(directory, embedder)

    for name in ["index.faiss", "entries.json", "articles.json", "manifest.json"]:
        directory = copy()
        (live(directory) / name).unlink()
        with pytest.raises(IndexMismatch, match=re.escape(f"incomplete: {name} is missing")):
            KnowledgeIndex.load(directory, embedder)

    for name, text in [("entries.json", "["), ("articles.json", '{"id": "x"}'), ("manifest.json", "[]")]:
        directory = copy()
        (live(directory) / name).write_text(text, encoding="utf-8")
        with pytest.raises(IndexMismatch, match=re.escape(f"{name} is corrupt")):
            KnowledgeIndex.load(directory, embedder)

    directory = copy()
    (directory / "CURRENT").write_text("../elsewhere\n", encoding="utf-8")
    with pytest.raises(IndexMismatch, match="CURRENT is corrupt"):
        KnowledgeIndex.load(directory, embedder)

    directory = copy()
    entries = json.loads((live(directory) / "entries.json").read_text(encoding="utf-8"))
    (live(directory) / "entries.json").write_text(json.dumps(entries[:-1]), encoding="utf-8")
    with pytest.raises(IndexMismatch, match=re.escape("inconsistent: index.faiss has 25 rows, entries.json 24")):
        KnowledgeIndex.load(directory, embedder)

    directory = copy()
    articles = json.loads((live(directory) / "articles.json").read_text(encoding="utf-8"))
    articles[0]["title"] = "Changed behind the manifest's back"
    (live(directory) / "articles.json").write_text(json.dumps(articles), encoding="utf-8")
    with pytest.raises(IndexMismatch, match="does not match the manifest's fingerprint"):
        KnowledgeIndex.load(directory, embedder)


def test_build_refuses_directories_holding_other_files(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    precious = tmp_path / "precious"
    write(precious, "notes.txt", "keep me")
    with pytest.raises(IndexMismatch, match=re.escape(f"refusing to write an index to {precious}: it holds notes.txt")):
        KnowledgeIndex.build(load_articles(FIXTURES), embedder, precious)
    assert [path.name for path in precious.iterdir()] == ["notes.txt"]
    assert (precious / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_publishing_replaces_an_index_of_the_old_unversioned_layout(
    built: KnowledgeIndex, stored: StoredIndex, tmp_path: Path
) -> None:
    directory = tmp_path / "index"
    shutil.copytree(live(built.directory), directory)  # the index files directly in the directory
    (directory / ".tmp-1234abcd").mkdir()  # and what a crashed writer left behind
    assert read_manifest(directory) is None  # so ensure_index rebuilds it

    version = publish(directory, stored)

    assert sorted(path.name for path in directory.iterdir()) == [".lock", "CURRENT", version]


def publish(directory: Path, stored: StoredIndex) -> str:
    return write_index(
        directory, manifest=stored.manifest, articles=stored.articles, entries=stored.entries, vectors=stored.vectors,
        prototypes=stored.prototypes,
    )


def without_last_article(stored: StoredIndex) -> StoredIndex:
    """Another index: ``stored`` without its last article."""
    articles, dropped = stored.articles[:-1], stored.articles[-1].id
    rows = [row for row, entry in enumerate(stored.entries) if entry.article_id != dropped]
    vectors = faiss.IndexFlatIP(stored.vectors.d)
    vectors.add(stored.vectors.reconstruct_n(0, stored.vectors.ntotal)[rows])
    prototypes = faiss.IndexFlatIP(stored.vectors.d)  # the dropped article is the last topic
    prototypes.add(stored.prototypes.reconstruct_n(0, stored.prototypes.ntotal)[:-1])
    manifest = dataclasses.replace(
        stored.manifest, fingerprint=fingerprint(articles), entries=len(rows), articles=len(articles)
    )
    return StoredIndex(manifest, articles, tuple(stored.entries[row] for row in rows), vectors, prototypes, version="")


def test_readers_never_see_a_mixed_or_partial_index(
    stored: StoredIndex, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    directory = tmp_path / "index"
    variants = [stored, without_last_article(stored)]
    shapes = {v.manifest.fingerprint: (len(v.articles), len(v.entries), v.vectors.ntotal) for v in variants}
    assert len(shapes) == 2
    published = [publish(directory, variants[0])]
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: set[str] = set()

    def load_repeatedly() -> None:
        while not stop.is_set():
            try:
                index = KnowledgeIndex.load(directory, embedder)  # checks the files agree with each other
                fingerprint_ = index.manifest.fingerprint
                assert (len(index.articles), len(index.entries), index.manifest.entries) == shapes[fingerprint_]
                assert index.version.endswith(fingerprint_[:8])
                seen.add(fingerprint_)
            except BaseException as error:  # collected and reported below
                failures.append(error)
                return

    readers = [threading.Thread(target=load_repeatedly) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for number in range(1, 41):
            published.append(publish(directory, variants[number % 2]))
    finally:
        stop.set()
        for reader in readers:
            reader.join()

    assert failures == []
    assert seen == set(shapes)  # readers saw both versions
    assert versions(directory) == published  # each was live less than GRACE ago, so none was deleted yet
    assert sorted(path.name for path in directory.iterdir()) == [".lock", "CURRENT", *published]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index"]


def age_pointer(directory: Path) -> None:
    """Pretend ``CURRENT`` last changed more than GRACE seconds ago."""
    then = time.time() - GRACE - 1
    os.utime(directory / "CURRENT", (then, then))


def test_old_versions_are_pruned_after_the_grace_period(stored: StoredIndex, tmp_path: Path) -> None:
    directory = tmp_path / "index"
    published = [publish(directory, stored) for _ in range(KEEP + 2)]
    assert published == sorted(set(published))  # distinct names, in publishing order
    assert all(VERSION_NAME.fullmatch(name) for name in published)
    # Replaced moments ago: a reader may have just read their names from CURRENT, so they stay.
    assert versions(directory) == published

    age_pointer(directory)
    latest = publish(directory, stored)
    assert versions(directory) == [*published[-(KEEP - 1) :], latest]
    assert read_index(directory, model=MODEL, dimension=384).version == latest

    # The live and the previous live version are kept even when they are not the newest-named
    # (e.g. after the clock was set back).
    future = [f"v-99990101T000000.00000{n}Z-{stored.manifest.fingerprint[:8]}" for n in range(KEEP)]
    for name in future:
        shutil.copytree(directory / latest, directory / name)
    age_pointer(directory)
    current = publish(directory, stored)
    assert versions(directory) == [latest, current, *future]
    assert read_index(directory, model=MODEL, dimension=384).version == current


def test_set_current_switches_what_load_returns(stored: StoredIndex, tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    directory = tmp_path / "index"
    first = publish(directory, stored)
    second = publish(directory, without_last_article(stored))
    assert versions(directory) == [first, second]
    latest = KnowledgeIndex.load(directory, embedder)
    assert (latest.version, len(latest.articles)) == (second, len(FIXTURE_IDS) - 1)

    set_current(directory, first)
    rolled_back = KnowledgeIndex.load(directory, embedder)
    assert (rolled_back.version, len(rolled_back.articles)) == (first, len(FIXTURE_IDS))
    assert read_manifest(directory) == rolled_back.manifest == stored.manifest
    assert versions(directory) == [first, second]

    with pytest.raises(IndexMismatch, match="no version 'v-nope'"):
        set_current(directory, "v-nope")
    with pytest.raises(IndexMismatch, match=re.escape("no version '../elsewhere'")):
        set_current(directory, "../elsewhere")
    with pytest.raises(IndexMismatch, match="no index at"):
        set_current(tmp_path / "missing", first)
    assert KnowledgeIndex.load(directory, embedder).version == first

    set_current(directory, second)
    assert KnowledgeIndex.load(directory, embedder).version == second
