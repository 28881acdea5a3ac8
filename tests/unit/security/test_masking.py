"""Masker: secrets (and their common encodings) become *** everywhere they appear."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from conveyor.security.masking import MASK, Masker


def test_masks_every_occurrence() -> None:
    masker = Masker(["hunter2"])
    assert masker.mask("a hunter2 b hunter2") == f"a {MASK} b {MASK}"


def test_longest_secret_wins_over_its_prefix() -> None:
    masker = Masker(["abc", "abcdef"])
    assert masker.mask("xabcdefx abc") == "x***x ***"


@pytest.mark.parametrize("short", ["", "a", "ab"])
def test_short_values_are_ignored(short: str) -> None:
    masker = Masker([short])
    assert not masker
    assert masker.mask("a ab abc") == "a ab abc"


def test_empty_masker_returns_text_unchanged() -> None:
    text = "nothing to hide"
    assert Masker([]).mask(text) is text


def test_regex_metacharacters_are_literal() -> None:
    masker = Masker(["a.b*c"])
    assert masker.mask("a.b*c axbbc") == "*** axbbc"


def test_base64_forms_are_masked_at_any_offset() -> None:
    masker = Masker(["s3cr3t-token"])
    for prefix in (b"", b"u:", b"us:", b"use:"):
        encoded = base64.b64encode(prefix + b"s3cr3t-token").decode()
        masked = masker.mask(encoded)
        assert MASK in masked, prefix
        # No run of 6+ base64 characters of the secret survives.
        assert "czNjcjN0" not in masked


def test_url_encoded_form_is_masked() -> None:
    secret = "p@ss w/rd"
    masker = Masker([secret])
    assert masker.mask(f"https://x/?p={quote(secret, safe='')}") == "https://x/?p=***"


def test_each_line_of_a_multiline_secret_is_masked() -> None:
    key = "-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----"
    masker = Masker([key])
    assert masker.mask("line: MIIEabcdef\n") == "line: ***\n"
    assert masker.mask(key) == MASK


def test_mask_value_walks_dicts_lists_and_tuples() -> None:
    masker = Masker(["hunter2"])
    value = {"a": ["x hunter2", ("hunter2", 3)], "hunter2": None, "n": 1.5, "b": True}
    assert masker.mask_value(value) == {
        "a": ["x ***", ("***", 3)],
        "***": None,
        "n": 1.5,
        "b": True,
    }


def test_repr_hides_secrets() -> None:
    assert "hunter2" not in repr(Masker(["hunter2"]))
