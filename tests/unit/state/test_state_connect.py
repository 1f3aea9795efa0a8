"""Redis URLs: clients with timeouts and TLS, and URLs safe to log."""

from __future__ import annotations

import logging
import ssl
import string

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from balancer.errors import InputError
from balancer.state.connect import INSECURE_ENV, redact_url, redis_from_url, tls_options


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://agent:s3cret@redis:6380/0", "rediss://agent:***@redis:6380/0"),
        ("redis://:s3cret@redis/0", "redis://:***@redis/0"),
        ("redis://s3cret@redis/0", "redis://***@redis/0"),
        ("redis://redis/0?password=s3cret&db=1", "redis://redis/0?password=***&db=1"),
        (
            "rediss://u:p%40ss@r:6380/0?ssl_ca_certs=/ca.pem",
            "rediss://u:***@r:6380/0?ssl_ca_certs=/ca.pem",
        ),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "s3cret" not in redact_url(url)


@pytest.mark.parametrize("mark", ["/", "?", "#", "@", ":", "%", "/?#@:%"])
def test_redact_a_password_that_was_not_percent_encoded(mark: str) -> None:
    """A base64 password holds ``/``; a URL parser takes what follows for the path."""
    for password in (f"SEC{mark}RET", f"{mark}SECRET", f"SECRET{mark}"):
        for url in (
            f"rediss://agent:{password}@redis:6380/0",
            f"redis://:{password}@redis/0",
            f"redis://redis/0?db=1&password={password}",
        ):
            shown = redact_url(url)
            assert "SEC" not in shown, (url, shown)
            assert "RET" not in shown, (url, shown)
            assert shown.startswith(url.split("://")[0] + "://"), shown


@given(st.text(alphabet=string.ascii_letters + string.digits + "+/=?#@:%&", min_size=8))
def test_redact_never_shows_a_password(password: str) -> None:
    secret = f"Z{password}Z"  # Z: in no other part of the URL
    for url in (f"rediss://agent:{secret}@redis:6380/0", f"redis://:{secret}@redis/0"):
        shown = redact_url(url)
        assert "Z" not in shown, (url, shown)
        assert shown.endswith("@redis:6380/0") or shown.endswith("@redis/0"), shown


def test_redact_what_is_not_a_url() -> None:
    assert redact_url("127.0.0.1:6379") == "127.0.0.1:6379"
    assert redact_url("agent:SECRET@redis") == "***"


def test_client_has_timeouts_and_one_quick_retry() -> None:
    client = redis_from_url("redis://127.0.0.1:1/0", timeout_s=2.5)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 2.5
    assert kwargs["socket_connect_timeout"] == 2.5
    retry = client.get_retry()
    assert retry is not None
    assert retry.get_retries() == 1
    with pytest.raises(redis.ConnectionError):
        client.ping()  # nothing listens on port 1: fails, does not hang
    client.close()


def test_rediss_means_tls() -> None:
    client = redis_from_url("rediss://agent:pw@127.0.0.1:6380/0?ssl_ca_certs=/etc/ca.pem")
    pool = client.connection_pool
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    assert pool.connection_kwargs["username"] == "agent"
    client.close()


@pytest.mark.parametrize("url", ["http://x", "127.0.0.1:6379", "redis//x"])
def test_not_a_redis_url(url: str) -> None:
    with pytest.raises(InputError, match="not a Redis URL"):
        redis_from_url(url)


def test_tls_options_verify_unless_the_url_says_otherwise() -> None:
    assert tls_options("redis://127.0.0.1:6379/0") is None
    assert tls_options("rediss://w:pw@r:6380/0?ssl_ca_certs=/etc/ca%20dir/ca.pem") == {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_ca_certs": "/etc/ca dir/ca.pem",
    }
    with pytest.raises(InputError, match="ssl_cert_reqs='maybe'"):
        tls_options("rediss://r/0?ssl_cert_reqs=maybe")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("ssl_cert_reqs=none", "ssl_cert_reqs=none"),
        ("ssl_cert_reqs=CERT_OPTIONAL", "ssl_cert_reqs=CERT_OPTIONAL"),
        ("ssl_check_hostname=false", "ssl_check_hostname=false"),
    ],
)
def test_tls_without_verification_needs_insecure(
    query: str, named: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"rediss://u:SECRET@r:6380/0?{query}"
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    for connect in (redis_from_url, tls_options):
        with pytest.raises(InputError, match=f"{named} .* pass --insecure") as refused:
            connect(url)
        assert "SECRET" not in str(refused.value)
    monkeypatch.setenv(INSECURE_ENV, "1")
    with caplog.at_level(logging.WARNING, logger="balancer.state.connect"):
        redis_from_url(url).close()
        options = tls_options(url)
    assert options is not None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings  # once per process and URL
    assert named in warnings[0]
    assert "SECRET" not in warnings[0]
