"""Topic prototypes (knowledge_index/prototypes.py): shapes, edge cases, and what they are for."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_index.prototypes import fit_prototypes


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def clusters(topics: int, per_topic: int, seed: int = 0) -> tuple[np.ndarray, list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(topics, 32)))
    labels = [topic for topic in range(topics) for _ in range(per_topic)]
    return unit(centres[labels] + rng.normal(scale=0.3, size=(len(labels), 32))), labels, centres


def test_prototypes_are_unit_vectors_that_rank_each_topic_first_for_its_own_region() -> None:
    vectors, labels, centres = clusters(topics=6, per_topic=8)
    prototypes = fit_prototypes(vectors, labels, 6)
    assert prototypes.shape == (6, 32) and prototypes.dtype == np.float32
    assert np.linalg.norm(prototypes, axis=1) == pytest.approx(1.0, abs=1e-6)
    assert list(np.argmax(centres @ prototypes.T, axis=1)) == list(range(6))


def test_a_shared_direction_counts_less_than_what_sets_a_topic_apart() -> None:
    # Every entry shares one strong direction (think "my order ..."); topics differ in weaker ones.
    vectors, labels, _ = clusters(topics=4, per_topic=10, seed=1)
    shared = np.zeros(32, dtype=np.float32)
    shared[0] = 3.0
    vectors = unit(vectors + shared)
    prototypes = fit_prototypes(vectors, labels, 4)
    centroids = unit(np.stack([vectors[np.array(labels) == t].mean(axis=0) for t in range(4)]))
    assert np.abs(prototypes[:, 0]).max() < np.abs(centroids[:, 0]).min()  # the shared part is discounted
    # A question that is nothing but the shared direction is far from every prototype.
    assert (prototypes @ unit(shared[None, :])[0]).max() < 0.3 < (centroids @ unit(shared[None, :])[0]).min()


def test_edge_cases_one_or_two_topics_a_topic_without_entries_one_entry_per_topic() -> None:
    vectors, labels, _ = clusters(topics=3, per_topic=4, seed=2)
    alone = fit_prototypes(vectors[:4], labels[:4], 1)  # one topic: its mean direction
    assert alone[0] @ unit(vectors[:4].mean(axis=0, keepdims=True))[0] == pytest.approx(1.0)

    two = fit_prototypes(vectors[:8], labels[:8], 2)  # a binary model: opposite directions
    assert two[0] @ two[1] == pytest.approx(-1.0, abs=1e-6)

    gap = fit_prototypes(vectors[4:], [0] * 4 + [2] * 4, 3)  # topic 1 has no entries: a zero vector
    assert not gap[1].any() and np.linalg.norm(gap[[0, 2]], axis=1) == pytest.approx(1.0, abs=1e-6)

    faq = fit_prototypes(vectors, list(range(12)), 12)  # one question per article, no warning (strict pytest)
    assert list(np.argmax(vectors @ faq.T, axis=1)) == list(range(12))
