"""Masking on the message path: how long `Masker` takes per customer message, for the settings' kinds,
against no masking in the same run.

Messages: the example questions of the knowledge articles (English, German; what customers ask) and the
same number of messages that carry what masking looks for or must leave alone, in English, German and
Arabic: order numbers, dates, prices, phone numbers, e-mail addresses, card numbers, IBANs, tracking
numbers. Each configuration masks every message --repeat times,
interleaved round by round so that all see the same machine; one message at a time, as the event loop
does. Then the worst case: a message of max_message_length (2000) characters of digit groups.

    .venv/bin/python bench/masking.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dev_suite import cpu_model  # noqa: E402
from handoff.cases.masking import Masker  # noqa: E402

CONFIGURATIONS: dict[str, list[str] | None] = {
    "no masking (baseline)": None,
    "card (mask_in_transcripts default)": ["card"],
    "email, phone, card (mask_in_reports default)": ["email", "phone", "card"],
}
TEMPLATES = [
    "My order VC-{order} hasn't arrived, it was due on {day}.11.2026. Call me on 0151 {phone}",
    "Hallo, meine Bestellung VC-{order} vom {day}.10.2026 ist noch nicht da. Erreichbar unter +49 30 {phone}",
    "I was charged EUR 1,{order3}.00 twice on my card {card}, please refund",
    "Bitte schreiben Sie mir an max.mueller{day}@example.de, die Rechnung über 1.299,00 € stimmt nicht",
    "مرحبا، طلبي رقم VC-{order} لم يصل بعد، رقمي +971 50 {phone3} {phone4}",
    "Part {part} is missing from article HW-DT-2040, order VC-{order}",
    "The tracking number 00340434{phone} shows nothing since {day}.11.",
    "IBAN for the refund: DE89 3704 0044 0532 {phone4} 00, thanks",
]
TEST_CARDS = ["4242 4242 4242 4242", "5555555555554444", "3782 822463 10005", "4111-1111-1111-1111"]


def article_questions() -> list[str]:
    questions = []
    for path in sorted((ROOT / "training_data" / "articles").rglob("*.md")):
        front = path.read_text(encoding="utf-8").split("---")[1]
        questions += yaml.safe_load(front).get("questions", [])
    return questions


def messages(rng: random.Random) -> list[str]:
    plain = article_questions()
    with_numbers = [
        rng.choice(TEMPLATES).format(
            order=rng.randrange(1_000_000, 9_999_999), order3=rng.randrange(100, 999), day=rng.randrange(10, 28),
            phone=rng.randrange(10_000_000, 99_999_999), phone3=rng.randrange(100, 999),
            phone4=rng.randrange(1000, 9999), part=rng.randrange(100_000, 999_999), card=rng.choice(TEST_CARDS))
        for _ in plain
    ]
    return plain + with_numbers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="rounds over all messages")
    args = parser.parse_args()
    corpus = messages(random.Random(7))
    maskers: dict[str, Callable[[str], str]] = {
        name: (lambda text: text) if kinds is None else Masker(kinds, "DE") for name, kinds in CONFIGURATIONS.items()
    }
    for mask in maskers.values():  # libphonenumber loads its metadata on first use: outside the timing
        mask(corpus[-1])
    half = len(corpus) // 2
    timings: dict[tuple[str, str], list[float]] = {}
    clock = time.perf_counter_ns
    for _ in range(args.repeat):
        for name, mask in maskers.items():
            for i, text in enumerate(corpus):
                started = clock()
                mask(text)
                spent = (clock() - started) / 1000
                timings.setdefault((name, "questions" if i < half else "with numbers"), []).append(spent)

    print(f"{len(corpus)} messages ({half} article questions, {len(corpus) - half} with numbers), "
          f"x{args.repeat}; {cpu_model()}, Python {platform.python_version()}")
    print("| configuration | messages | mean µs | p50 µs | p99 µs | messages/s on one core |")
    print("|---|---|---|---|---|---|")
    for (name, group), spent in timings.items():
        mean = statistics.fmean(spent)
        print(f"| {name} | {group} | {mean:.1f} | {percentile(spent, 0.5):.1f} | {percentile(spent, 0.99):.1f} | "
              f"{1e6 / mean:,.0f} |")
    worst = " ".join(["1234"] * 400)[:2000]
    print("\nworst case, 2000 characters of digit groups:")
    for name, mask in maskers.items():
        runs = []
        for _ in range(20):
            started = clock()
            mask(worst)
            runs.append((clock() - started) / 1e6)
        print(f"- {name}: {statistics.median(runs):.2f} ms (median of 20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
