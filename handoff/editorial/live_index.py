"""The app's knowledge index: loaded at start-up, swapped when a new version is published.

An editor's publish (handoff/editorial/publishing.py, or `casedesk kb build`) writes a new immutable version and
moves the index's CURRENT pointer; the app polls that pointer and loads the new version off the event
loop, so conversations go on and every search sees one whole version.

At start-up the app answers from the published version, even when the article files changed since:
edits go live through a publish and its quality gate, not through a restart. Only when there is no
usable published index (none yet, or one built with other models) is it built from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path

from handoff.settings import Settings
from knowledge_index.articles import ArticleError, fingerprint, load_articles
from knowledge_index.decision import load_calibration
from knowledge_index.embedder import Embedder
from knowledge_index.index import KnowledgeIndex, ensure_index, production_embedders
from knowledge_index.storage import ArticleRecord, IndexMismatch, current_version

log = logging.getLogger(__name__)


class LiveIndex:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._english, self._multilingual = production_embedders(settings.model_cache_dir)
        # The calibrations a rebuild publishes with the index; a published index brings its own. The
        # answer precision target chooses among its thresholds.
        files = settings.thresholds_file, settings.multilingual_thresholds_file
        self._thresholds, self._multilingual_thresholds = (load_calibration(f) if f else None for f in files)
        self._target = settings.answer_precision_target
        self.version = ""
        self._index: KnowledgeIndex | None = None

    def start(self) -> None:
        """Load the published index, building one first when there is none (blocking: run in a thread)."""
        try:
            index = KnowledgeIndex.load(self._settings.index_dir, self._english, self._multilingual, self._target)
            rebuilt = False
            self._tell_about_edits(index)
        except IndexMismatch as exc:
            log.info("building the knowledge index: %s", exc)
            index, rebuilt = ensure_index(
                Path(self._settings.articles_dir), Path(self._settings.index_dir), self._english,
                thresholds=self._thresholds, multilingual=self._multilingual,
                multilingual_thresholds=self._multilingual_thresholds, precision_target=self._target,
            )
        log.info("knowledge index %s: %d articles (%s)", "built" if rebuilt else "loaded", len(index.articles),
                 index.version)
        self._use(index)

    def _tell_about_edits(self, index: KnowledgeIndex) -> None:
        try:
            edited = fingerprint(load_articles(self._settings.articles_dir)) != index.manifest.fingerprint
        except ArticleError as exc:
            log.warning("the article files are not valid (%s): the bot answers from the published index", exc)
            return
        if edited:
            log.warning("the article files changed since the last publish: the bot answers from the published "
                        "index until they are published (the editor page, or `casedesk publish`)")

    def refresh(self) -> bool:
        """Swap to the live version if it changed since we loaded ours (blocking: run in a thread)."""
        try:
            if current_version(self._settings.index_dir) == self.version:
                return False
            index = KnowledgeIndex.load(self._settings.index_dir, self._english, self._multilingual, self._target)
        except IndexMismatch as exc:  # keep answering from the version we have
            log.error("not swapping the knowledge index: %s", exc)
            return False
        log.info("knowledge index swapped to %s: %d articles", index.version, len(index.articles))
        self._use(index)
        return True

    @property
    def encoder(self) -> Embedder:
        """The English model the index embeds with (the reports group questions with it too)."""
        return self._english

    @property
    def multilingual(self) -> Embedder:
        return self._multilingual

    def current(self) -> KnowledgeIndex:
        """The version in use: what this app's actions, pages and jobs search."""
        if self._index is None:
            raise RuntimeError("the knowledge index is not loaded yet")
        return self._index

    def article(self, article_id: str) -> ArticleRecord | None:
        """An article of the version in use."""
        return self.current().article(article_id)

    def tags(self, article_id: str) -> tuple[str, ...]:
        """The tags of an article of the version in use (none for an article it does not have)."""
        record = self.current().article(article_id)
        return record.tags if record else ()

    def _use(self, index: KnowledgeIndex) -> None:
        index.warm()  # here, in the loading thread, not on the first customer's question
        self._index = index
        self.version = index.version
