"""Redis clients from URLs (``redis://``, ``rediss://`` with TLS, ``unix://``), with
timeouts so no call blocks forever, and URLs made safe to log.

Credentials come in the URL (``rediss://agent:secret@host:6380/0?ssl_ca_certs=/ca.pem``)
or, to keep them off the command line, in ``BALANCER_REDIS_URL``; they are never logged:
log ``redact_url(url)``. ``redis_error`` turns a Redis error into the one line a user
sees (a missing password says that a password is needed).
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from balancer.errors import BalancerError, InputError, RetryableError

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: Set to 1 by ``balancer --insecure``: TLS without verifying the server is accepted.
INSECURE_ENV = "BALANCER_INSECURE"
DEFAULT_TIMEOUT_S = 5.0
_SCHEMES = ("redis", "rediss", "unix")
#: A secret in the query (``?password=…``, ``&ssl_password=…``): its value, to the next ``&``.
_SECRET_QUERY = re.compile(r"([?&](?:password|ssl_password)=)[^&]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``rediss://agent:secret@h:6380/0`` → ``rediss://agent:***@h:6380/0``.

    Not parsed as a URL: a password that was not percent-encoded may hold ``/``, ``?``,
    ``#``, ``@`` or ``:`` (any base64 password can), and a parser would then take part of
    it for the path, query or fragment and print it. Secret query values are masked up
    to the next ``&``; then everything between ``://`` and the last ``@`` is credentials
    (the user name, up to its first ``:``, is kept). A URL without ``://`` is shown
    masked whole if it holds an ``@``.
    """
    masked = _SECRET_QUERY.sub(r"\1***", url)
    scheme, sep, rest = masked.partition("://")
    if not sep:
        return "***" if "@" in masked else masked
    if "@" not in rest:
        return masked
    userinfo, _, tail = rest.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    # Without a colon the one part may still be a secret mistaken for a user name.
    return f"{scheme}://{user}:***@{tail}" if has_password else f"{scheme}://***@{tail}"


def check_url(url: str) -> None:
    """A Redis URL this client understands, or ``InputError`` saying what is wrong."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise InputError(
            f"not a Redis URL: {redact_url(url)} (use redis://, rediss:// or unix://)", "--redis"
        )
    check_verification(url)
    try:
        path = urlsplit(url).path
    except ValueError as exc:
        raise InputError(f"bad Redis URL {redact_url(url)}: {exc}", "--redis") from None
    db = path.lstrip("/")
    if scheme != "unix" and db and not db.isdigit():
        raise InputError(
            f"bad Redis URL {redact_url(url)}: the database is a number (…:6379/0), not {db!r}",
            "--redis",
        )


def redis_error(exc: redis.RedisError, url: str) -> BalancerError:
    """The error to show for ``exc`` from the store at ``url``: a missing or refused
    password is bad input (``InputError``), anything else may pass (``RetryableError``)."""
    where = redact_url(url)
    text = str(exc)
    if isinstance(exc, redis.AuthenticationError) or text.startswith("NOAUTH"):
        has_password = bool(urlsplit(url).password) or "password=" in url
        if not has_password:
            return InputError(
                f"Redis at {where} needs a password: give it in the URL "
                "(redis://USER:PASSWORD@HOST:PORT/DB), best through BALANCER_REDIS_URL",
                "--redis",
            )
        return InputError(
            f"Redis at {where} refused the user name and password "
            "(wrong password, or the user is disabled)",
            "--redis",
        )
    if text.startswith("NOPERM"):
        return InputError(f"Redis at {where}: the user may not do this: {text}", "--redis")
    return RetryableError(f"Redis {where}: {text}")


def redis_from_url(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> redis.Redis:
    """A client that gives up after ``timeout_s`` and retries a dropped connection once;
    TLS verified unless ``--insecure`` (``check_verification``)."""
    check_url(url)
    try:
        return redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            health_check_interval=30,
        )
    except ValueError as exc:
        raise InputError(f"bad Redis URL {redact_url(url)}: {exc}", "--redis") from None


_CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
_TLS_FILES = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")


def tls_options(url: str) -> dict[str, object] | None:
    """Celery's ``broker_use_ssl`` / ``redis_backend_use_ssl`` for a ``rediss://`` URL
    (``None`` for any other): the certificate files its query names and
    ``ssl_cert_reqs`` — verified (``CERT_REQUIRED``) unless the query says otherwise.

    redis-py verifies by default; Celery refuses a ``rediss://`` URL without
    ``ssl_cert_reqs`` and kombu's broker reads no TLS file from the URL, so without these
    the URL the store takes would not start a worker.
    """
    query = _tls_query(url)
    if query is None:
        return None
    check_verification(url)
    reqs = _cert_reqs(query)
    options: dict[str, object] = {"ssl_cert_reqs": _CERT_REQS[reqs]}
    options.update({k: query[k] for k in _TLS_FILES if k in query})
    return options


def _tls_query(url: str) -> dict[str, str] | None:
    """A ``rediss://`` URL's query parameters (the last of each), ``None`` for another."""
    parts = urlsplit(url)
    if parts.scheme != "rediss":
        return None
    return {k: unquote(v[-1]) for k, v in parse_qs(parts.query).items()}


def _cert_reqs(query: dict[str, str]) -> str:
    reqs = query.get("ssl_cert_reqs", "required").lower().removeprefix("cert_")
    if reqs not in _CERT_REQS:
        raise InputError(f"ssl_cert_reqs={reqs!r}: use required, optional or none", "--redis")
    return reqs


def insecure_allowed() -> bool:
    """``balancer --insecure`` (or ``BALANCER_INSECURE=1``, which processes it starts inherit)."""
    return os.environ.get(INSECURE_ENV, "") == "1"


_warned: set[str] = set()


def check_verification(url: str) -> None:
    """A ``rediss://`` URL that turns off the check of the server's certificate
    (``ssl_cert_reqs=none|optional``, ``ssl_check_hostname=false``) is refused unless
    ``--insecure`` says so; then a warning is logged once per process (every start)."""
    query = _tls_query(url)
    if query is None:
        return
    off = [f"ssl_cert_reqs={query['ssl_cert_reqs']}"] if _cert_reqs(query) != "required" else []
    if query.get("ssl_check_hostname", "true").lower() in ("false", "0", "no", "off"):
        off.append(f"ssl_check_hostname={query['ssl_check_hostname']}")
    if not off:
        return
    if not insecure_allowed():
        raise InputError(
            f"{' and '.join(off)} in {redact_url(url)} turns off the check of the server's "
            "certificate (anyone on the path could read the password): give the CA with "
            "ssl_ca_certs, or pass --insecure to accept that",
            "--redis",
        )
    if url not in _warned:
        _warned.add(url)
        log.warning("TLS to %s without verifying the server (--insecure): %s",
                    redact_url(url), ", ".join(off))  # fmt: skip
