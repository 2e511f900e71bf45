"""Where a webhook may point: URL validation, and the private-address guard after DNS resolution."""

from __future__ import annotations

import socket

import pytest

from civicloop.core.errors import ValidationFailed
from civicloop.webhooks import actions, transport
from civicloop.webhooks.models import Webhook

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Give the URL"),
        ("   ", "Give the URL"),
        ("example.com/hook", "must start with http:// or https://"),
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("http://", "must start with http:// or https://"),
        ("http:///path", "must start with http:// or https://"),
        ("http://exa mple.com/", "spaces or control characters"),
        ("http://example.com/a\nb", "spaces or control characters"),
        ("http://example.com/\x00", "spaces or control characters"),
        ("http://user:pw@example.com/hook", "user name and password"),
        ("http://token@example.com/hook", "user name and password"),
        ("http://example.com/hook#frag", "#"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com:0/", "between 1 and 65535"),
        ("http://example.com:port/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("http://exa_mple..com/", "not a valid host name"),
        ("http://-bad-.com/", "not a valid host name"),
        ("http://999.1.1.1/", "not a valid IP address"),
        ("http://" + "a" * 64 + ".com/", "not a valid host name"),
        ("https://example.com/" + "x" * 500, "too long"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(ValidationFailed, match=message) as caught:
        transport.clean_url(url)
    assert caught.value.field == "url"


@pytest.mark.parametrize(
    ("url", "cleaned"),
    [
        ("https://hooks.example.cn/civicloop", "https://hooks.example.cn/civicloop"),
        ("  HTTPS://Hooks.Example.CN/a?b=1&c=2  ", "https://hooks.example.cn/a?b=1&c=2"),
        ("http://example.com", "http://example.com/"),
        ("http://oa-server:8080/hook", "http://oa-server:8080/hook"),  # intranet single-label host
        ("http://10.1.2.3/hook", "http://10.1.2.3/hook"),
        ("http://[2001:db8::1]:8443/x", "http://[2001:db8::1]:8443/x"),
        (
            "http://例子.中国/路径?名=值",
            "http://xn--fsqu00a.xn--fiqs8s/%E8%B7%AF%E5%BE%84?%E5%90%8D=%E5%80%BC",
        ),
        ("http://example.com/a%20b", "http://example.com/a%20b"),
    ],
)
def test_good_urls_are_normalised(url, cleaned):
    assert transport.clean_url(url) == cleaned


def _resolving_to(monkeypatch, *addresses: str) -> None:
    def fake(host: str, port: int):
        if not addresses:
            raise socket.gaierror(-2, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(transport, "resolve", fake)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_blocking_private_targets_refuses_them_after_resolution(settings, monkeypatch, address):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_BLOCK_PRIVATE": True}
    _resolving_to(monkeypatch, "93.184.215.14", address)  # one bad address is enough
    with pytest.raises(ValidationFailed, match="private, loopback or link-local") as caught:
        transport.clean_url("https://hooks.example.cn/x")
    assert caught.value.field == "url"


def test_blocking_private_targets_allows_public_ones_and_refuses_unresolvable(
    settings, monkeypatch
):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_BLOCK_PRIVATE": True}
    _resolving_to(monkeypatch, "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert transport.clean_url("https://hooks.example.cn/x") == "https://hooks.example.cn/x"
    _resolving_to(monkeypatch)
    with pytest.raises(ValidationFailed, match="could not be resolved"):
        transport.clean_url("https://nowhere.example.cn/x")


def test_loopback_literals_are_refused_without_any_lookup_mocking(settings):
    settings.CIVICLOOP = {**settings.CIVICLOOP, "WEBHOOK_BLOCK_PRIVATE": True}
    for url in (
        "http://127.0.0.1:8000/",
        "http://[::1]/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data",
    ):
        with pytest.raises(ValidationFailed, match="private, loopback or link-local"):
            transport.clean_url(url)


def test_private_targets_are_allowed_by_default_for_intranets(settings):
    assert not transport.blocks_private()
    assert transport.clean_url("http://127.0.0.1:8000/hook") == "http://127.0.0.1:8000/hook"


def test_a_refused_url_writes_nothing(city):
    with pytest.raises(ValidationFailed):
        actions.webhook_create(by=city.users["dispatcher"], name="x", url="ftp://example.com/")
    with pytest.raises(ValidationFailed, match="Unknown event kind"):
        actions.webhook_create(
            by=city.users["dispatcher"], name="x", url="https://example.com/", events=["exploded"]
        )
    with pytest.raises(ValidationFailed, match="name"):
        actions.webhook_create(by=city.users["dispatcher"], name=" ", url="https://example.com/")
    with pytest.raises(ValidationFailed, match="control characters"):
        actions.webhook_create(
            by=city.users["dispatcher"], name="a\x00b", url="https://example.com/"
        )
    assert not Webhook.objects.exists()
