"""Suite-wide fixtures: the Kafka broker, PostgreSQL, per-test databases and names.

How each backend is chosen is in tests/harness/plans.py; the session header says it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.kit.embedded import EmbeddedBroker, free_port
from tests.harness import plans
from tests.harness.postgres import (
    LocalPostgres,
    create_database,
    drop_database,
    libpq_url,
    sqlalchemy_url,
    wait_for_postgres,
)

TESTS_DIR = Path(__file__).parent
# Tests are marked by folder (speed class), so `-m unit` works without decorating each test.
FOLDER_MARKERS = {"unit": "unit", "contracts": "unit", "integration": "integration", "e2e": "e2e"}


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = plans.postgres_plan()
    pg_line = f"skipped ({pg.detail})" if pg.kind == "skip" else pg.detail
    return [f"relais broker: {plans.broker_plan().detail}", f"relais postgresql: {pg_line}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])


# --- Kafka -------------------------------------------------------------------------------


@dataclass
class BrokerHandle:
    bootstrap: str
    embedded: EmbeddedBroker | None  # only set when we started Tansu ourselves


@pytest.fixture(scope="session")
async def _broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerHandle]:
    plan = plans.broker_plan()
    if plan.kind == "env":
        yield BrokerHandle(os.environ[plans.KAFKA_ENV], None)
    elif plan.kind == "docker":
        kafka_cls = plans.container_class("kafka", "KafkaContainer")
        with kafka_cls() as kafka:
            yield BrokerHandle(kafka.get_bootstrap_server(), None)
    else:
        log = tmp_path_factory.mktemp("tansu") / "tansu.log"  # kept by pytest for post-mortems
        broker = EmbeddedBroker(port=free_port(), log_path=log)
        await broker.start()
        try:
            yield BrokerHandle(broker.bootstrap, broker)
        finally:
            broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(_broker: BrokerHandle) -> str:
    """`host:port` of the session's Kafka-compatible broker."""
    return _broker.bootstrap


@pytest.fixture(scope="session")
def embedded_broker(_broker: BrokerHandle) -> EmbeddedBroker:
    """The broker process itself, for fault tests (pause/resume); skips on external ones."""
    if _broker.embedded is None:
        pytest.skip("broker is external (env or testcontainers): cannot pause/resume it")
    return _broker.embedded


# --- PostgreSQL --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """Superuser URL (`postgresql://...`, psycopg form) of the session's PostgreSQL server."""
    plan = plans.postgres_plan()
    if plan.kind == "skip":
        pytest.skip(f"PostgreSQL unavailable: {plan.detail}")
    if plan.kind == "env":
        url = libpq_url(os.environ[plans.POSTGRES_ENV])
        wait_for_postgres(url, timeout=10)
        yield url
    elif plan.kind == "docker":
        pg_cls = plans.container_class("postgres", "PostgresContainer")
        with pg_cls("postgres:16-alpine", driver=None) as pg:
            yield libpq_url(pg.get_connection_url())
    else:
        bin_dir = plans.pg_bin_dir()
        assert bin_dir is not None  # the plan said "local"
        # Tools found but the cluster failing to start is a broken machine: fail, don't skip.
        cluster = LocalPostgres(bin_dir, plans.pg_run_as() or None)
        try:
            cluster.start()
            yield cluster.admin_url
        finally:
            cluster.stop()


@pytest.fixture
def fresh_postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A new empty database for this test only; SQLAlchemy URL with the psycopg driver."""
    name = create_database(postgres_admin_url)
    try:
        yield sqlalchemy_url(postgres_admin_url, name)
    finally:
        drop_database(postgres_admin_url, name)


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Async SQLAlchemy URL of an empty database; every test using it runs on both."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/test.db"
    # Looked up lazily so the sqlite variant never needs a PostgreSQL server.
    return str(request.getfixturevalue("fresh_postgres_url"))


# --- Names -------------------------------------------------------------------------------


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """`unique_name("orders")` -> "orders-3f2a9c1d0b7e": fresh topics and consumer groups
    per test, so tests never see each other's records or committed offsets."""

    def make(prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    return make
