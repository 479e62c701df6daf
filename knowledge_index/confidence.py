"""The second stage after retrieval: how likely a ranked topic is the right answer to the question.

Retrieval ranks the topics by their prototype score (`prototypes`); the score alone is a poor judge
of whether the top topic is right. `ConfidenceModel` turns what the search saw about a candidate
topic (`FEATURES`) into a probability, with a logistic regression fitted by ``kb calibrate`` on the
calibration sets (`fit`), never on a reported set:

- ``score``, ``margin``: the candidate's prototype score, and its lead over the best other topic
  (negative for every candidate but the first);
- ``nearest``, ``nearest_margin``: its nearest entry's cosine, and its lead over the nearest entry of
  any other topic;
- ``nearest_agrees``: whether the single nearest entry belongs to it;
- ``vote``: the share of the `NEIGHBOURS` nearest entries that belong to it;
- ``score_gap``: its prototype score minus the mean score of its own entries against its prototype
  (a question as close to the prototype as the topic's own questions are scores about 0): this
  puts topics with many and with few example questions on one scale;
- ``nearest_gap`` and ``has_neighbours``: its nearest entry's cosine minus how close the topic's
  entries are to each other (the mean cosine of each entry to its nearest sibling), and whether the
  topic has two entries or more at all (when not, ``nearest_gap`` is 0);
- ``lexical_share``, ``lexical_agrees``: the BM25 score of its best entry (`lexical`) as a share of
  the best BM25 score of any topic (0 when no word of the question is in the knowledge base), and
  whether it is that best topic: do the question's words point where its meaning does;
- ``topics``: the log of the number of topics in the knowledge base. Margins and votes mean more
  among many topics than among ten; the calibration sets include small knowledge bases drawn from
  the large ones (`devsets.small_kbs`) so that the model learns how much.

The model is fitted on the first two candidates of every calibration question (is this topic right?),
so it gives a probability to the second topic too: the chance that one of the top two is right is
about the sum of theirs, which is what the clarify rule reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["FEATURES", "NEIGHBOURS", "ConfidenceModel", "TopicStats", "candidate_features", "fit", "topic_stats"]

FEATURES = ("score", "margin", "nearest", "nearest_margin", "nearest_agrees", "vote", "score_gap", "nearest_gap",
            "has_neighbours", "lexical_share", "lexical_agrees", "topics")
NEIGHBOURS = 10  # nearest entries that vote
C = 1.0  # inverse L2 strength of the logistic regression, on standardised features

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TopicStats:
    """Per topic: how its own entries score against its prototype, and against each other."""

    typical_score: npt.NDArray[np.float32]  # mean cosine of the topic's entries to its prototype
    typical_nearest: npt.NDArray[np.float32]  # mean cosine of each entry to its nearest sibling; nan if alone


def topic_stats(matrix: npt.NDArray[np.float32], prototypes: npt.NDArray[np.float32],
                rows: Sequence[npt.NDArray[np.int64] | None]) -> TopicStats:
    """`TopicStats` of the topics whose entry rows in ``matrix`` are ``rows`` (None: no entries)."""
    typical = np.zeros(len(rows), np.float32)
    nearest = np.full(len(rows), np.nan, np.float32)
    for topic, found in enumerate(rows):
        if found is None or len(found) == 0:
            continue
        entries = matrix[found]
        typical[topic] = float((entries @ prototypes[topic]).mean())
        if len(found) > 1:
            similar = entries @ entries.T
            np.fill_diagonal(similar, -np.inf)
            nearest[topic] = float(similar.max(axis=1).mean())
    return TopicStats(typical, nearest)


def candidate_features(
    prototype: FloatArray, nearest: FloatArray, neighbours: npt.NDArray[np.int64], lexical: FloatArray,
    stats: TopicStats, candidates: npt.NDArray[np.int64],
) -> FloatArray:
    """The `FEATURES` (columns) of the ``candidates`` (topic numbers) of one question, from its
    ``prototype`` score, ``nearest`` entry cosine and best ``lexical`` (BM25) score for every topic,
    and the topics of its nearest entries (``neighbours``, best first)."""
    chosen_prototype = prototype[candidates]
    chosen_nearest = nearest[candidates]
    features = np.empty((len(candidates), len(FEATURES)), np.float64)
    for i, topic in enumerate(candidates):
        others_prototype = np.delete(prototype, topic)
        others_nearest = np.delete(nearest, topic)
        features[i, 1] = chosen_prototype[i] - (others_prototype.max() if len(others_prototype) else -1.0)
        features[i, 3] = chosen_nearest[i] - (others_nearest.max() if len(others_nearest) else -1.0)
    features[:, 0] = chosen_prototype
    features[:, 2] = chosen_nearest
    features[:, 4] = (len(neighbours) > 0) & (neighbours[:1] == candidates) if len(neighbours) else 0.0
    features[:, 5] = (neighbours[None, :] == candidates[:, None]).mean(axis=1) if len(neighbours) else 0.0
    features[:, 6] = chosen_prototype - stats.typical_score[candidates]
    siblings = stats.typical_nearest[candidates]
    alone = np.isnan(siblings)
    features[:, 7] = np.where(alone, 0.0, chosen_nearest - np.nan_to_num(siblings))
    features[:, 8] = ~alone
    best = float(lexical.max()) if len(lexical) else 0.0
    features[:, 9] = lexical[candidates] / best if best > 0 else 0.0
    features[:, 10] = (best > 0) & (lexical[candidates] >= best)
    features[:, 11] = np.log(len(prototype))
    return features


@dataclass(frozen=True)
class ConfidenceModel:
    """A logistic regression over standardised `FEATURES`: P(the candidate topic is right)."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    features: tuple[str, ...] = FEATURES

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURES:
            raise ValueError(f"confidence model features {list(self.features)} are not {list(FEATURES)}")
        if not len(self.mean) == len(self.scale) == len(self.weights) == len(FEATURES):
            raise ValueError("confidence model: mean, scale and weights need one number per feature")

    def probabilities(self, features: FloatArray) -> FloatArray:
        """P(right) for each row of ``features``."""
        z = ((features - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights) + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))  # type: ignore[no-any-return]

    def to_json(self) -> dict[str, Any]:
        return {"features": list(self.features), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfidenceModel:
        return cls(tuple(map(float, data["mean"])), tuple(map(float, data["scale"])),
                   tuple(map(float, data["weights"])), float(data["intercept"]), tuple(data["features"]))


def fit(features: FloatArray, right: npt.NDArray[np.bool_]) -> ConfidenceModel:
    """The model that predicts ``right`` from ``features`` (one row per candidate topic)."""
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a feature constant on the calibration queries (up to float noise) weighs nothing
    model = LogisticRegression(C=C, max_iter=5000).fit((features - mean) / scale, right)
    return ConfidenceModel(tuple(np.round(mean, 6).tolist()), tuple(np.round(scale, 6).tolist()),
                           tuple(np.round(model.coef_[0], 6).tolist()), round(float(model.intercept_[0]), 6))
