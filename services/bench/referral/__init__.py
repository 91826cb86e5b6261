"""`relais bench referral`: referral creations per second, and commit -> consumer latency.

The referral service as `services.referral.main.create_app` builds it (its runtime: SQLite in a
temporary directory, outbox relay, timers, its own consumers), its lifespan run by the bench,
driven through HTTP with **httpx.ASGITransport** (the whole ASGI app — middleware, routing,
validation, JWT check, JSON — but no socket: client and service share one process and one
event loop, which the figures therefore include). What differs from production, and why:

* tokens: the app's JWT verifier is replaced by one holding a JWKS the bench generated (the
  directory is not running); tokens are minted with the same claims the directory signs;
* the member copy (`referral_known_member`) is seeded by inserting rows before start-up, as
  the `directory.events` consumer would have written them;
* logging at WARNING (one INFO line per referral would go to the terminal).

Figures (issue 4, "Performance"; floors on the 2-core machine with SQLite):

(a) creations: 16 concurrent clients, each a member with its own pre-created projects (with
    consent), POST /v1/referrals as fast as answers come; floor >= 250/s.
(b) latency at a steady 100 referrals/s (open loop): from just before the POST's commit (a
    SQLAlchemy `before_commit` hook on the service's sessions) to a kit `EventConsumer`'s
    handler for `referral.sent.v1` on `referral.events` (own group, own SQLite inbox), in a
    child process as a consuming service would be;
    floor p99 <= 50 ms. POST start -> handler is shown too.
(c) beside them, on the same broker in the same run: raw aiokafka produce rate and
    produce -> consume round trip at 100/s (`services.bench.kit`).

With KAFKA_BOOTSTRAP_SERVERS naming a cluster, the service publishes to that cluster's
`referral.events` (the contracts fix the topic); use the embedded broker for a clean run.
"""

from services.bench.referral.phases import (
    LatencyConsumer,
    Load,
    Paced,
    creations,
    log,
    paced,
    project_body,
    wait_for,
)
from services.bench.referral.report import (
    CALM_RATE,
    FLOOR_CREATIONS,
    FLOOR_P99_MS,
    RATE,
    Sizes,
    pyinstrument_profile,
    run,
)
from services.bench.referral.service import (
    CLIENTS,
    NETWORK,
    CommitMarks,
    Members,
    TokenMint,
    referral_service,
    seed_members,
    unpublished,
)

__all__ = [
    "CALM_RATE",
    "CLIENTS",
    "FLOOR_CREATIONS",
    "FLOOR_P99_MS",
    "NETWORK",
    "RATE",
    "CommitMarks",
    "LatencyConsumer",
    "Load",
    "Members",
    "Paced",
    "Sizes",
    "TokenMint",
    "creations",
    "log",
    "paced",
    "project_body",
    "pyinstrument_profile",
    "referral_service",
    "run",
    "seed_members",
    "unpublished",
    "wait_for",
]
