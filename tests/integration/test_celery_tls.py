"""TLS verified by default: a Celery worker on the store's own ``rediss://`` URL (the one
every other command takes: user, password, ``ssl_ca_certs``, no Celery-only parameter)
starts, takes a task and returns its result with the server's certificate verified; a
client that trusts another CA is refused; a URL that turns verification off is refused
unless ``--insecure`` says so, which is then warned about."""

from __future__ import annotations

from pathlib import Path

import kombu.exceptions
import pytest
import redis
import trustme

from tests.fixtures.redis_server import RedisFactory, TlsFiles
from tests.integration.agent_processes import balancer
from tests.integration.celery_worker import CeleryWorker
from workers.celery_app import make_app

WORKER_ACL = ("--user", "worker", "on", ">worker-pw", "~*", "&*", "+@all")


def tls_files(directory: Path, ca: trustme.CA) -> TlsFiles:
    cert = ca.issue_cert("127.0.0.1")
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    directory.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(files.ca))
    cert.cert_chain_pems[0].write_to_path(str(files.cert))
    cert.private_key_pem.write_to_path(str(files.key))
    return files


@pytest.fixture
def tls_store(tmp_path: Path, redis_server_factory: RedisFactory) -> tuple[TlsFiles, str]:
    """A TLS-only redis-server with its own CA, and the worker user's URL (CA named)."""
    files = tls_files(tmp_path / "tls", trustme.CA())
    server = redis_server_factory(tls=files, extra=WORKER_ACL)
    return files, server.url_for("worker", "worker-pw")


def test_a_worker_runs_on_the_stores_rediss_url_with_the_certificate_verified(
    tmp_path: Path, tls_store: tuple[TlsFiles, str]
) -> None:
    files, url = tls_store
    assert url.startswith("rediss://")
    assert "ssl_cert_reqs" not in url
    worker = CeleryWorker(tmp_path / "worker", {"BALANCER_REDIS_URL": url}, concurrency=1)
    worker.start()
    app = make_app(url)
    try:
        result = app.send_task("balancer.wave_done", args=["plan-1", 1, 1, "workflow-1"])
        assert result.get(timeout=60) == {"plan_id": "plan-1", "wave": 1, "waves": 1}
    finally:
        app.close()
        worker.stop()
    assert "worker-pw" not in worker.log.read_text()

    # Another CA's certificate file: the server's certificate is not trusted.
    other = tls_files(tmp_path / "other", trustme.CA())
    wrong = url.replace(str(files.ca), str(other.ca))
    app = make_app(wrong)
    try:
        with pytest.raises((kombu.exceptions.OperationalError, redis.ConnectionError)):
            app.connection_for_write().ensure_connection(max_retries=1)
    finally:
        app.close()


def test_the_cli_verifies_the_server_and_turns_it_off_only_when_told(
    tmp_path: Path, tls_store: tuple[TlsFiles, str]
) -> None:
    files, url = tls_store
    ok = balancer("hosts", "--json", "--redis", url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "[]"

    unverified = url.replace(f"ssl_ca_certs={files.ca}", "ssl_cert_reqs=none")
    refused = balancer("hosts", "--json", "--redis", unverified)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "ssl_cert_reqs=none" in refused.stderr
    assert "--insecure" in refused.stderr
    assert "worker-pw" not in refused.stderr

    insecure = balancer("--insecure", "hosts", "--json", "--redis", unverified)
    assert insecure.returncode == 0, insecure.stderr
    assert "without verifying the server (--insecure)" in insecure.stderr
    assert "worker-pw" not in insecure.stderr

    other = tls_files(tmp_path / "other", trustme.CA())
    wrong = balancer("hosts", "--json", "--redis", url.replace(str(files.ca), str(other.ca)))
    assert wrong.returncode != 0
    assert "Traceback" not in wrong.stderr
    assert "certificate verify failed" in wrong.stderr, wrong.stderr
    assert "worker-pw" not in wrong.stderr
