"""The signature scheme, checked the way a receiver checks it (``signing.verify``)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from civicloop.webhooks import signing

SECRET = "whsec_test-secret"
BODY = b'{"id":"1","event":"case.dispatched","case":{"ticket_no":"20261117-000001"}}'
T = 1_763_344_800


def test_round_trip_and_the_documented_formula():
    header = signing.sign(SECRET, BODY, timestamp=T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"
    assert signing.verify(SECRET, header, BODY, 300, now=T + 10)
    assert signing.verify(
        SECRET, header, BODY.decode(), 300, now=T - 10
    )  # str bodies are the same bytes


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b"dispatched", b"verified")),  # body changed
        lambda h, b: (h, b + b" "),  # one byte more (a re-serialised body)
        lambda h, b: (h.replace(f"t={T}", f"t={T + 1}"), b),  # timestamp changed
        lambda h, b: (h[:-1] + ("0" if h[-1] != "0" else "1"), b),  # signature changed
        lambda h, b: (h.replace("v1=", "v0="), b),  # unknown scheme only
        lambda h, b: ("", b),
        lambda h, b: ("garbage", b),
        lambda h, b: (f"t=abc,{h.split(',')[1]}", b),
        lambda h, b: (f"t={T}", b),  # no signature at all
    ],
)
def test_tampering_is_refused(tamper):
    header, body = tamper(signing.sign(SECRET, BODY, timestamp=T), BODY)
    assert not signing.verify(SECRET, header, body, 300, now=T)


def test_a_wrong_secret_is_refused():
    header = signing.sign(SECRET, BODY, timestamp=T)
    assert not signing.verify("whsec_other", header, BODY, 300, now=T)
    assert not signing.verify("", header, BODY, 300, now=T)


def test_old_and_future_timestamps_are_refused_even_with_a_valid_signature():
    header = signing.sign(SECRET, BODY, timestamp=T)
    assert signing.verify(SECRET, header, BODY, 300, now=T + 300)
    assert not signing.verify(
        SECRET, header, BODY, 300, now=T + 301
    )  # a replay, five minutes later
    assert not signing.verify(SECRET, header, BODY, 300, now=T - 301)  # a clock far ahead
    assert signing.verify(SECRET, header, BODY, 3600, now=T + 3000)


def test_during_a_rotation_either_secret_verifies():
    header = signing.sign(["whsec_new", "whsec_old"], BODY, timestamp=T)
    assert header.count("v1=") == 2
    assert signing.verify("whsec_new", header, BODY, now=T)
    assert signing.verify("whsec_old", header, BODY, now=T)
    assert not signing.verify("whsec_third", header, BODY, now=T)


def test_header_parsing_tolerates_spaces_and_order():
    sig = signing.compute(SECRET, T, BODY)
    assert signing.verify(SECRET, f" v1={sig} , t={T} ", BODY, now=T)
    assert signing.parse(f"t={T},v1=AB,v1=cd,x=1") == (T, ["ab", "cd"])
