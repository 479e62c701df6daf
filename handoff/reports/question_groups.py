"""Grouping customer questions by meaning: agglomerative clustering of their embeddings.

Questions are embedded by the app's own English model (the knowledge index's encoder, unit vectors)
and merged bottom-up with complete linkage on cosine distance (scikit-learn's
`AgglomerativeClustering`): two groups join only while every question of one is at least
`SIMILARITY` similar to every question of the other, so a group never chains together questions
that have little to do with each other.

The linkage and `SIMILARITY` were chosen on the project's calibration sets (the in-scope questions
of clinc150 val and banking77-OOS valid, their intents as the true groups) as the pair with the
best mean adjusted Rand index, and checked on sets never used for choosing (banking77-OOS test,
StackFAQ, the seed articles' example questions): ``bench/gap_threshold.py`` and docs/reports.md,
"Content gaps".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

SIMILARITY = 0.30  # cosine; see the module's docstring
LINKAGE = "complete"


def group(vectors: npt.NDArray[np.float32], similarity: float = SIMILARITY, linkage: str = LINKAGE) -> list[int]:
    """The group number of each row of ``vectors`` (unit rows), numbered 0.. in order of first appearance."""
    count = len(vectors)
    if count == 0:
        return []
    if count == 1:
        return [0]
    from sklearn.cluster import AgglomerativeClustering  # imported on first use: keeps start-up light

    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage=linkage, distance_threshold=1.0 - similarity,
    ).fit_predict(vectors)
    renumber: dict[int, int] = {}
    return [renumber.setdefault(int(label), len(renumber)) for label in labels]


def representative(vectors: npt.NDArray[np.float32], members: Sequence[int]) -> int:
    """The member closest to its group's mean direction (the medoid by cosine)."""
    rows = vectors[list(members)]
    centre = rows.mean(axis=0)
    return members[int(np.argmax(rows @ centre))]
