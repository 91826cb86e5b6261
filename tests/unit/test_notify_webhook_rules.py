"""Notify's pure webhook rules: ids, scope, URL safety, retry timing, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from contracts.envelope import CloudEvent
from contracts.events.referral import ReferralDeclined
from services.kit.auth import Principal
from services.kit.errors import ApiError
from services.notify.webhooks import domain
from services.notify.webhooks.secrets import (
    DEVELOPMENT_KEY,
    SecretBox,
    SecretError,
    check_secret,
    generate_secret,
    parse_key,
)
from services.notify.webhooks.sender import body_of, signed_headers

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def who(member: str | None = None, networks: tuple[str, ...] = (), *roles: str) -> Principal:
    return Principal("user:usr_x", member, networks, roles)


def test_delivery_id_is_stable_per_event_and_subscription() -> None:
    first = domain.delivery_id("evt-1", "sub_a")
    assert first == domain.delivery_id("evt-1", "sub_a")
    assert first != domain.delivery_id("evt-1", "sub_b")
    assert first != domain.delivery_id("evt-2", "sub_a")
    assert first.startswith("msg_")


def test_payload_is_thin_and_carries_the_status() -> None:
    event = ReferralDeclined(
        project_id="prj_1",
        referral_id="ref_1",
        sender_member_id="mbr_a",
        receiver_member_id="mbr_b",
        reason="hors_territoire",
        actor="user:usr_9",
    )
    envelope = CloudEvent.wrap(event, source="/relais/referral", time=NOW)
    envelope = envelope.model_copy(update={"data": {**envelope.data, "note": "texte libre"}})
    payload = domain.webhook_payload(envelope, "tremplin")
    assert payload["type"] == ReferralDeclined.type_name and payload["id"] == envelope.id
    assert payload["data"] == {
        "referral_id": "ref_1",
        "project_id": "prj_1",
        "sender_member_id": "mbr_a",
        "receiver_member_id": "mbr_b",
        "reason": "hors_territoire",
        "network_id": "tremplin",
        "status": "declined",
    }


def test_scope_member_network_platform_and_refusals() -> None:
    assert domain.scope_of(who("mbr_a", ("n1",), "member_tool")) == domain.Scope(
        "member", member_id="mbr_a"
    )
    assert domain.scope_of(who(None, ("n2", "n1"), "funder")) == domain.Scope(
        "network", network_ids=("n1", "n2")
    )
    assert domain.scope_of(who(None, (), "platform_admin")).kind == "platform"
    for refused in (who("mbr_a", ("n1",), "adviser"), who(None, (), "funder")):
        with pytest.raises(ApiError) as caught:
            domain.scope_of(refused)
        assert caught.value.status == 403


def test_a_subscription_is_never_wider_than_its_owner() -> None:
    member = domain.Scope("member", member_id="mbr_a")
    fund = domain.Scope("network", network_ids=("n1",))
    mine = domain.ReferralFacts("mbr_a", "mbr_b", "n1")
    theirs = domain.ReferralFacts("mbr_c", "mbr_d", "n1")
    unknown_network = domain.ReferralFacts("mbr_c", "mbr_a", None)
    assert domain.may_receive(member, None, mine)
    assert not domain.may_receive(member, None, theirs)
    assert domain.may_receive(member, None, unknown_network)
    assert not domain.may_receive(member, ["n1"], unknown_network)
    assert domain.may_receive(fund, None, theirs)
    assert not domain.may_receive(fund, None, unknown_network)
    assert not domain.may_receive(fund, None, domain.ReferralFacts("x", "y", "n2"))
    assert domain.narrowed_networks(fund, None) == ["n1"]
    with pytest.raises(ApiError):
        domain.narrowed_networks(fund, ["n1", "n2"])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.1", "link_local"),
        ("fe80::1", "link_local"),
        ("10.0.0.1", "private"),
        ("172.16.5.5", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert domain.address_kind(address) == kind


def test_url_checks() -> None:
    assert domain.check_url("https://partenaire.example/hook", allow_loopback=False).port == 443
    assert domain.check_url("http://127.0.0.1:8010/h", allow_loopback=True).literal_ip
    for url, code in (
        ("ftp://x.example/", "webhook.url_scheme"),
        ("http:///x", "webhook.url_host"),
        ("https://user:pw@x.example/", "webhook.url_credentials"),
        ("http://127.0.0.1/", "webhook.url_forbidden"),
        ("http://localhost/", "webhook.url_forbidden"),
        ("http://[fe80::1]/", "webhook.url_forbidden"),
    ):
        with pytest.raises(domain.UrlRefused) as caught:
            domain.check_url(url, allow_loopback=False)
        assert caught.value.code == code, url


def test_retry_schedule_jitter_and_retry_after() -> None:
    delays = [domain.retry_delay(n, SCHEDULE, jitter=0, draw=0.5) for n in range(1, 9)]
    assert [d.total_seconds() for d in delays] == [5, 300, 1800, 7200, 18000, 36000, 36000, 36000]
    jittered = domain.retry_delay(2, SCHEDULE, jitter=0.1, draw=0.5)
    assert jittered == timedelta(seconds=315)  # only ever later than the schedule
    longer = domain.retry_delay(1, SCHEDULE, jitter=0, draw=0, retry_after=timedelta(minutes=2))
    assert longer == timedelta(minutes=2)
    shorter = domain.retry_delay(3, SCHEDULE, jitter=0, draw=0, retry_after=timedelta(seconds=1))
    assert shorter == timedelta(seconds=1800)


def test_retry_after_in_seconds_or_http_date() -> None:
    assert domain.parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert domain.parse_retry_after("Mon, 02 Mar 2026 10:05:00 GMT", NOW) == timedelta(minutes=5)
    assert domain.parse_retry_after("Mon, 02 Mar 2026 09:00:00 GMT", NOW) == timedelta(0)
    assert domain.parse_retry_after("999999999", NOW) == domain.MAX_RETRY_AFTER
    assert domain.parse_retry_after("bientôt", NOW) is None
    assert domain.parse_retry_after(None, NOW) is None


def test_five_days_of_failures_disable_an_endpoint() -> None:
    five = timedelta(days=5)
    assert not domain.endpoint_should_be_disabled(None, NOW, five)
    assert not domain.endpoint_should_be_disabled(NOW - timedelta(days=4), NOW, five)
    assert domain.endpoint_should_be_disabled(NOW - five, NOW, five)


def test_secrets_are_whsec_sealed_per_subscription_and_both_sign_during_overlap() -> None:
    old, new = generate_secret(), generate_secret()
    assert check_secret(old) == old
    for bad in ("whsec_", "abc", "whsec_" + "A" * 8, "whsec_%%%"):
        with pytest.raises(SecretError):
            check_secret(bad)
    box = SecretBox(parse_key(DEVELOPMENT_KEY))
    sealed = box.seal("sub_1", old)
    assert old not in sealed and box.open("sub_1", sealed) == old
    with pytest.raises(SecretError):
        box.open("sub_2", sealed)  # a sealed secret copied to another row does not open

    body = body_of({"type": "t", "id": "e", "data": {"é": 1}})
    headers = signed_headers("msg_1", (new, old), datetime.now(UTC), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(body, headers)
