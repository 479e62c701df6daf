"""Masking of personal data in free text: e-mail addresses, phone numbers and payment card numbers.

A `Masker` replaces what it finds with a token an agent can read: ``[email]``, ``[phone]`` and
``[card ••••4242]`` (a card keeps its last four digits, which PCI DSS allows to be shown, so an agent
can still tell the customer which card they meant). Which kinds are masked is a setting, one for the
stored transcripts (`mask_in_transcripts`) and one for what the reports show (`mask_in_reports`),
docs/privacy.md.

- E-mail addresses: a regular expression (local part, ``@``, a domain with a letters-only top-level
  label), Unicode letters included.
- Phone numbers: Google's libphonenumber (the `phonenumbers` port) with the leniency VALID: a number
  must be a valid number of its country, written with ``+`` or ``00`` and a country code, or in the
  national format of the default region (`phone_region`). Order numbers, dates and prices are not
  valid numbers, so they stay.
- Card numbers: 13 to 19 digits, in groups separated by single spaces or dashes, that pass the Luhn
  check and do not start with 0 (no card number does; phone numbers in national or 00 format do).
  A card followed by more digits (an expiry date after a space) is found inside the longer run.

E-mail addresses and IBAN-like strings are found first and nothing inside them is taken for a phone or
a card number (an IBAN is not masked: docs/privacy.md). Masking is pure and fast enough for the event
loop: bench/masking.py, docs/benchmarks.md.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import phonenumbers

EMAIL, PHONE, CARD = "email", "phone", "card"
IBAN = "iban"  # found, never masked: it keeps its digits from being taken for a card or phone number
KINDS = (EMAIL, PHONE, CARD)
EMAIL_TOKEN = "[email]"
PHONE_TOKEN = "[phone]"
CARD_DIGITS = (13, 19)  # ISO/IEC 7812 primary account numbers

_EMAIL = re.compile(
    r"(?<![\w.!#$%&'*+/=?^`{|}~-])"  # not in the middle of a longer local part
    r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"  # local part, dots between
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])"  # domain: labels, a letters-only TLD
)
# Two letters, two check digits, then 11 to 30 letters and digits, in groups of (mostly) four.
_IBAN = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,30}(?!\w)")
# Runs of digit groups joined by one space or dash (maximal: a run starts after a non-digit).
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_GROUP = re.compile(r"\d+")
_WORD = re.compile(r"\w")
_ANY_DIGIT = re.compile(r"\d")


@dataclasses.dataclass(frozen=True)
class Found:
    kind: str
    start: int
    end: int
    token: str


def card_token(digits: str) -> str:
    return f"[card ••••{digits[-4:]}]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _ascii_digits(text: str) -> str:
    """The digits of ``text`` as ASCII (customers may type Arabic-Indic digits)."""
    return "".join(str(unicodedata.digit(ch)) for ch in text if ch.isdigit())


def _glued(text: str, start: int) -> bool:
    """The digits at ``start`` continue something else: a word (``VC-2048113``, ``HW4711``), a ``+``
    (an international phone number) or a decimal number."""
    before = text[start - 1] if start else ""
    if before == "+" or (before and _WORD.match(before)):
        return True
    return before in "-.," and start >= 2 and bool(_WORD.match(text[start - 2]))


def _cards_in_run(text: str, run: re.Match[str]) -> list[Found]:
    """Card numbers at the start of one run of digit groups: the longest run of whole groups with 13-19
    digits that passes the Luhn check and is grouped as cards are (one block, or blocks of 4 to 6 digits
    before the last: 4-4-4-4, 4-6-5), then the same in what follows it (a second card; an expiry date
    or code after a card is left as it is)."""
    if _glued(text, run.start()):
        return []
    groups = [(m.start(), m.end(), _ascii_digits(m.group())) for m in _GROUP.finditer(run.group())]
    found: list[Found] = []
    first = 0
    while first < len(groups) and groups[first][2][0] != "0":  # no card number starts with 0
        best: tuple[int, str] | None = None  # (last group, digits)
        digits = ""
        for j in range(first, len(groups)):
            if j > first and not 4 <= len(groups[j - 1][2]) <= 6:
                break  # an earlier group of 1-3 digits: a date, a quantity, not a card
            digits += groups[j][2]
            if len(digits) > CARD_DIGITS[1]:
                break
            if len(digits) >= CARD_DIGITS[0] and luhn_valid(digits):
                best = (j, digits)
        if best is None:
            break
        j, digits = best
        found.append(Found(CARD, run.start() + groups[first][0], run.start() + groups[j][1], card_token(digits)))
        first = j + 1
    return found


def check_region(region: str) -> str:
    """``region`` if libphonenumber knows it as a region code (DE, US, AE, ...), else ValueError."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"expected a region code like DE, US or AE (upper case), got {region!r}")
    return region


def parse_kinds(key: str) -> Any:
    """The parser of a settings-file list of kinds to mask (`mask_in_transcripts`, `mask_in_reports`)."""
    def parse(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key}: expected a list of {', '.join(KINDS)}, got {value!r}")
        unknown = [v for v in value if v not in KINDS]
        if unknown:
            raise ValueError(f"{key}: {unknown[0]!r} is not one of {', '.join(KINDS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"{key}: {next(v for v in value if value.count(v) > 1)!r} is listed twice")
        return tuple(value)
    return parse


def _overlaps(found: Found, taken: list[Found]) -> bool:
    return any(found.start < t.end and t.start < found.end for t in taken)


class Masker:
    """``masker(text)``: the text with the ``kinds`` it finds replaced by their tokens."""

    def __init__(self, kinds: Iterable[str], phone_region: str = "DE") -> None:
        self.kinds = frozenset(kinds)
        if not self.kinds <= set(KINDS):
            raise ValueError(f"kinds: must be some of {', '.join(KINDS)}")
        self.phone_region = check_region(phone_region)

    def find(self, text: str) -> list[Found]:
        """What would be masked, in order of position."""
        if not self.kinds or not text:
            return []
        taken: list[Found] = []
        if "@" in text:
            taken += [Found(EMAIL, m.start(), m.end(), EMAIL_TOKEN) for m in _EMAIL.finditer(text)]
        if self.kinds & {PHONE, CARD} and _ANY_DIGIT.search(text):
            # Nothing inside an e-mail address or an IBAN is a phone or card number; a card number is
            # found before phone numbers, which may not overlap it.
            taken += [f for m in _IBAN.finditer(text) if not _overlaps(f := Found(IBAN, m.start(), m.end(), ""), taken)]
            for run in _DIGIT_RUN.finditer(text):
                taken += [f for f in _cards_in_run(text, run) if not _overlaps(f, taken)]
            if PHONE in self.kinds:
                for match in phonenumbers.PhoneNumberMatcher(text, self.phone_region, phonenumbers.Leniency.VALID):
                    phone = Found(PHONE, match.start, match.end, PHONE_TOKEN)
                    if not _overlaps(phone, taken):
                        taken.append(phone)
        return sorted((f for f in taken if f.kind in self.kinds), key=lambda f: f.start)

    def __call__(self, text: str) -> str:
        found = self.find(text)
        if not found:
            return text
        parts: list[str] = []
        at = 0
        for f in found:
            parts += [text[at:f.start], f.token]
            at = f.end
        parts.append(text[at:])
        return "".join(parts)


def for_transcripts(settings: Any) -> Masker:
    """What the store keeps of a customer's or an agent's text (setting `mask_in_transcripts`)."""
    return Masker(settings.mask_in_transcripts, settings.phone_region)


def for_reports(settings: Any) -> Masker:
    """``mask_for_reports(text)``: what the reports show of stored text (setting `mask_in_reports`)."""
    return Masker(settings.mask_in_reports, settings.phone_region)
