"""A Celery worker on the store's own ``rediss://`` URL (the one every other command
takes: user, password, ``ssl_ca_certs``, no Celery-only parameter) starts, takes a task
and returns its result over TLS with the server's certificate verified; a client that
trusts another CA is refused."""

from __future__ import annotations

from pathlib import Path

import kombu.exceptions
import pytest
import redis
import trustme

from tests.fixtures.redis_server import RedisFactory, TlsFiles
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


def test_a_worker_runs_on_the_stores_rediss_url_with_the_certificate_verified(
    tmp_path: Path, redis_server_factory: RedisFactory
) -> None:
    files = tls_files(tmp_path / "tls", trustme.CA())
    server = redis_server_factory(tls=files, extra=WORKER_ACL)
    url = server.url_for("worker", "worker-pw")
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
