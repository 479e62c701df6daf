"""Masking of e-mail addresses, phone numbers and card numbers in text (handoff/cases/masking.py), on what the
shops' customers write: German, English and Arabic, order numbers, dates, prices, IBANs."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.cases import masking
from handoff.cases.masking import KINDS, Masker, luhn_valid, parse_kinds
from handoff.settings import load_settings

ALL = Masker(KINDS, "DE")

# Test card numbers of the card networks (they pass the Luhn check).
VISA, MASTERCARD, AMEX = "4242424242424242", "5555555555554444", "378282246310005"


@pytest.mark.parametrize(("text", "masked"), [
    # cards, as people type them
    (f"my card is {VISA}", "my card is [card ••••4242]"),
    ("4242 4242 4242 4242", "[card ••••4242]"),
    ("visa 4111-1111-1111-1111.", "visa [card ••••1111]."),
    ("amex 3782 822463 10005", "amex [card ••••0005]"),
    ("card 4111 1111 1111 1111 12/28 123", "card [card ••••1111] 12/28 123"),  # expiry and code stay
    (f"{VISA} 1228", "[card ••••4242] 1228"),  # a card followed by more digits
    (f"two {VISA} {MASTERCARD}", "two [card ••••4242] [card ••••4444]"),
    ("بطاقتي ٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "بطاقتي [card ••••4242]"),  # Arabic-Indic digits
    ("Kreditkarte: 5555 5555 5555 4444, gültig bis 03/29", "Kreditkarte: [card ••••4444], gültig bis 03/29"),
    # phone numbers: national (DE), international with + or 00, other countries with their code
    ("Call me on 0151 23456789 please", "Call me on [phone] please"),
    ("Rufen Sie mich an: 030/1234567", "Rufen Sie mich an: [phone]"),
    ("my number 015123456789", "my number [phone]"),
    ("+49 30 1234567", "[phone]"),
    ("0049 151 23456789", "[phone]"),
    ("Hotline 0800 123 4567?", "Hotline [phone]?"),
    ("in Wien: +43 664 1234567", "in Wien: [phone]"),
    ("US office +1 (415) 555-0132", "US office [phone]"),
    ("اتصل بي على +971 50 123 4567", "اتصل بي على [phone]"),
    ("رقمي +966 50 123 4567", "رقمي [phone]"),
    ("رقمي ٠١٥١٢٣٤٥٦٧٨٩", "رقمي [phone]"),  # a German mobile in Arabic-Indic digits
    # e-mail addresses
    ("write to jürgen.müller@beispiel.de.", "write to [email]."),
    ("Mail: Max_Mustermann+orders@mail.example.co.uk, thanks", "Mail: [email], thanks"),
    ("<anna@velora.example>", "<[email]>"),
    ("max.015123456789@web.de", "[email]"),  # the digits of an address are no phone number
    ("بريدي هو sara.ali@example.com شكرا", "بريدي هو [email] شكرا"),
    # everything at once
    (f"a@b.de, 0151 23456789, {VISA}", "[email], [phone], [card ••••4242]"),
])
def test_masks_cards_phone_numbers_and_addresses(text: str, masked: str) -> None:
    assert ALL(text) == masked


@pytest.mark.parametrize("text", [
    "order VC-2048113 hasn't arrived",
    "Bestellnummer VC-204811399",
    "order number 123456789012",  # a long order number is no valid phone number
    "part 104233 and article HW-DT-2040",
    "delivered on 12.03.2026 at 14:30",
    "between 2026-11-20 and 2026-11-27",
    "2026-11-20 2026-11-27",  # 16 digits in a run, but grouped like dates, not like a card
    "it cost EUR 1,500, the chair 1.299,00 € and 3 x 49",
    "DHL tracking 00340434161234567890",
    "IBAN DE89 3704 0044 0532 0130 00",
    "IBAN DE89370400440532013000 please refund there",
    "AT61 1904 3002 3457 3201",
    f"{VISA[:-1]}3",  # fails the Luhn check
    "ticket #40213, reference 1234-5678-90",
    "a@b",  # no top-level domain
    "user@localhost",
    "no digits and no address here",
    "",
])
def test_leaves_order_numbers_dates_prices_and_ibans(text: str) -> None:
    assert ALL(text) == text


def test_only_the_kinds_asked_for_are_masked() -> None:
    text = f"anna@velora.example, 0151 23456789, {VISA}"
    assert Masker(["card"], "DE")(text) == "anna@velora.example, 0151 23456789, [card ••••4242]"
    assert Masker(["email"], "DE")(text) == f"[email], 0151 23456789, {VISA}"
    assert Masker(["phone"], "DE")(text) == f"anna@velora.example, [phone], {VISA}"
    assert Masker([], "DE")(text) == text
    # a card is never taken for a phone number, masked or not
    assert Masker(["phone"], "DE")(f"card {AMEX}") == f"card {AMEX}"
    # no card number starts with 0 (this one is a valid number in Vettweiß, area code 02424)
    assert Masker(["card"], "DE")("0" + VISA[1:]) == "0" + VISA[1:]


def test_the_default_region_reads_numbers_without_a_country_code() -> None:
    german, american = Masker(["phone"], "DE"), Masker(["phone"], "US")
    assert german("0151 23456789") == "[phone]" and american("0151 23456789") == "0151 23456789"
    assert american("(415) 555-2671") == "[phone]" and german("(415) 555-2671") == "(415) 555-2671"
    # numbers with their country code are found in any region
    assert german("+1 415 555 2671") == american("+49 151 23456789") == "[phone]"


def test_luhn() -> None:
    assert all(luhn_valid(n) for n in (VISA, MASTERCARD, AMEX, "79927398713"))
    assert not any(luhn_valid(n) for n in ("4242424242424241", "79927398710"))


def test_bad_kinds_and_regions_are_refused() -> None:
    with pytest.raises(ValueError, match="'iban' is not one of email, phone, card"):
        parse_kinds("mask_in_reports")(["email", "iban"])
    with pytest.raises(ValueError, match="'card' is listed twice"):
        parse_kinds("mask_in_transcripts")(["card", "card"])
    with pytest.raises(ValueError, match="expected a list"):
        parse_kinds("mask_in_transcripts")("card")
    assert parse_kinds("mask_in_transcripts")([]) == ()
    with pytest.raises(ValueError, match="region code"):
        Masker(["phone"], "XX")


def test_a_long_message_full_of_digits_is_masked_quickly() -> None:
    """The longest message (max_message_length 2000) of digit groups: the card search stays linear."""
    import time

    text = " ".join(["1234"] * 400)[:2000]
    started = time.perf_counter()
    ALL(text)
    assert time.perf_counter() - started < 0.5


def test_the_maskers_follow_the_settings(tmp_path: Path) -> None:
    text = f"anna@velora.example, (415) 555-2671, {VISA}"
    defaults = load_settings(None, {})
    assert masking.for_transcripts(defaults)(text) == "anna@velora.example, (415) 555-2671, [card ••••4242]"
    assert masking.for_reports(defaults)(text) == "[email], (415) 555-2671, [card ••••4242]"  # not a DE number
    file = tmp_path / "casedesk.toml"
    file.write_text('mask_in_transcripts = []\nmask_in_reports = ["phone"]\nphone_region = "US"\n')
    settings = load_settings(file, {})
    assert masking.for_transcripts(settings)(text) == text
    assert masking.for_reports(settings)(text) == f"anna@velora.example, [phone], {VISA}"
