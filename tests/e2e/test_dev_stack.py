"""`relais dev` as a newcomer runs it: separate processes, demo data, a webhook to the partner.

One stack for this module's tests, started in a temporary working directory against the
session's broker, stopped with Ctrl-C (SIGINT) at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.kit.embedded import port_is_free
from tests.harness.stack import project_body

SERVICES = ("directory", "referral", "evaluation", "notify")


def _free_base_port() -> int:
    for base in range(21000, 40000, 100):
        if all(port_is_free("127.0.0.1", base + offset) for offset in (1, 2, 3, 4, 10)):
            return base
    raise RuntimeError("no free port range for the e2e stack")


# Module scope: the stack's services consume the shared topics, and must not answer for
# other tests' referrals and commands once the e2e tests are done.
@pytest.fixture(scope="module")
def dev_stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("relais-dev")
    base = _free_base_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    log = (workdir / "relais-dev.out").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "dev", "--base-port", str(base)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    credentials = workdir / "var" / "demo-credentials.json"
    deadline = time.monotonic() + 120
    while not credentials.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("relais dev did not come up:\n" + (workdir / "relais-dev.out").read_text())
        time.sleep(0.2)
    try:
        yield {
            "process": process,
            "workdir": workdir,
            "credentials": json.loads(credentials.read_text()),
        }
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                pytest.fail("relais dev did not stop within 30 s of Ctrl-C")
        log.close()
        assert process.returncode == 0, (workdir / "relais-dev.out").read_text()[-2000:]


def _url(stack: dict[str, Any], service: str) -> str:
    return str(stack["credentials"]["services"][service]["url"])


def test_every_service_answers_healthz_and_readyz(dev_stack: dict) -> None:
    for service in SERVICES:
        for probe in ("/healthz", "/readyz"):
            response = httpx.get(_url(dev_stack, service) + probe, timeout=5)
            assert response.status_code == 200, (service, probe, response.text)


def test_referral_reaches_the_demo_partner_signed(dev_stack: dict) -> None:
    creds = dev_stack["credentials"]
    sender, receiver = creds["members"][0], creds["members"][1]
    token = httpx.post(
        _url(dev_stack, "directory") + "/v1/token", json={"api_key": sender["api_key"]}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    project = httpx.post(
        _url(dev_stack, "referral") + "/v1/projects", json=project_body(), headers=auth
    )
    assert project.status_code == 201, project.text
    created = httpx.post(
        _url(dev_stack, "referral") + "/v1/referrals",
        json={"project_id": project.json()["id"], "receiver_member_id": receiver["id"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    referral_id = created.json()["id"]

    inbox = Path(dev_stack["workdir"]) / "var" / "partner-inbox"
    deadline = time.monotonic() + 60
    while True:
        entries = (
            [json.loads(p.read_text()) for p in inbox.glob("*.json")] if inbox.exists() else []
        )
        ours = [e for e in entries if referral_id in e["body"]]
        if ours or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ours, f"no webhook for {referral_id} in {inbox}"
    assert ours[0]["signature_verified"] is True
    assert ours[0]["json"]["type"] == "fr.relais.referral.sent.v1"


def test_dead_letters_need_an_operator_token(dev_stack: dict) -> None:
    creds = dev_stack["credentials"]
    directory = _url(dev_stack, "directory")
    member_token = httpx.post(
        directory + "/v1/token", json={"api_key": creds["members"][0]["api_key"]}
    ).json()["access_token"]
    refused = httpx.get(
        _url(dev_stack, "referral") + "/v1/dlq",
        headers={"Authorization": f"Bearer {member_token}"},
    )
    assert refused.status_code == 403
    admin_token = httpx.post(
        directory + "/v1/token", json={"admin_key": creds["admin_key"]}
    ).json()["access_token"]
    listed = httpx.get(
        _url(dev_stack, "referral") + "/v1/dlq",
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    assert isinstance(listed.json(), list)
