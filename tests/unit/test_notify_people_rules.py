"""Notify's people routing: every event type is routed or explicitly about no one; who is told."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.registry import REGISTRY
from services.directory.geo import load
from services.notify.people import domain
from services.notify.people.rules import NO_PERSON, RULES, Channel, kind_of
from services.notify.people.texts import PORTEUR_TEXTS, TEXTS, title_and_sentence


def test_every_event_type_is_routed_or_listed_as_concerning_no_person() -> None:
    forgotten = sorted(t for t in REGISTRY if t not in RULES and t not in NO_PERSON)
    assert forgotten == [], f"add a rule or a NO_PERSON reason for {forgotten}"
    both = sorted(set(RULES) & set(NO_PERSON))
    assert both == []
    assert all(reason.strip() for reason in NO_PERSON.values())


def test_rules_name_only_types_that_exist() -> None:
    assert sorted(t for t in [*RULES, *NO_PERSON] if t not in REGISTRY) == []


def test_every_kind_someone_is_told_about_has_french_and_english_words() -> None:
    for type_name, rule in RULES.items():
        if rule.tell:
            kind = kind_of(type_name)
            assert {"fr", "en"} <= set(TEXTS[kind]), kind
    assert {"fr", "en"} <= set(PORTEUR_TEXTS["referral.accepted"])


def _told(type_name: str, data: dict[str, object], facts: domain.Facts) -> dict[str, set[Channel]]:
    return domain.recipients(RULES[type_name], data, facts)


PARTIES = {"sender_member_id": "mbr_s", "receiver_member_id": "mbr_r", "referral_id": "ref_1"}


def test_a_sent_referral_tells_the_receiving_member_once_and_reaches_both_feeds() -> None:
    facts = domain.Facts(sender_member_id="mbr_s", receiver_member_id="mbr_r", project_id="prj")
    told = _told("fr.relais.referral.sent.v1", PARTIES, facts)
    assert told == {"member:mbr_r": {Channel.email, Channel.in_app}}
    feed = domain.feed_members(RULES["fr.relais.referral.sent.v1"], PARTIES, facts)
    assert feed == ["mbr_s", "mbr_r"]


def test_the_assigned_adviser_replaces_the_member_contact_and_the_sending_adviser_is_told() -> None:
    facts = domain.Facts(
        sender_member_id="mbr_s",
        receiver_member_id="mbr_r",
        sender_user_id="usr_send",
        adviser_user_id="usr_adv",
        project_id="prj",
    )
    assert set(_told("fr.relais.referral.info_provided.v1", PARTIES, facts)) == {"user:usr_adv"}
    accepted = _told("fr.relais.referral.accepted.v1", PARTIES, facts)
    assert accepted == {
        "user:usr_send": {Channel.email, Channel.in_app},
        "porteur:prj": {Channel.email},
    }


def test_escalations_reach_the_network_operators() -> None:
    facts = domain.Facts(
        sender_member_id="mbr_s", receiver_member_id="mbr_r", network_ids=("tremplin",)
    )
    assert "network:tremplin" in _told("fr.relais.referral.expired.v1", PARTIES, facts)
    assert "network:tremplin" in _told("fr.relais.referral.reminder_due.v1", PARTIES, facts)
    suspended = _told("fr.relais.directory.member_suspended.v1", {"member_id": "mbr_x"}, facts)
    assert set(suspended) == {"member:mbr_x", "network:tremplin"}


def test_follow_ups_go_to_the_accompanying_adviser_else_the_member() -> None:
    t = "fr.relais.evaluation.follow_up_due.v1"
    facts = domain.Facts()
    with_adviser = {"member_id": "mbr_r", "adviser_user_id": "usr_a"}
    assert set(_told(t, with_adviser, facts)) == {"user:usr_a"}
    assert set(_told(t, {"member_id": "mbr_r", "adviser_user_id": None}, facts)) == {"member:mbr_r"}


def test_freshness_reminders_and_disabled_endpoints_reach_their_owner() -> None:
    facts = domain.Facts()
    offer = {"member_id": "mbr_o", "offer_id": "off_1"}
    assert set(_told("fr.relais.directory.offer_freshness_reminder.v1", offer, facts)) == {
        "member:mbr_o"
    }
    t = "fr.relais.notify.endpoint_disabled.v1"
    assert set(_told(t, {"owner_user_id": "usr_w", "owner_member_id": "mbr_o"}, facts)) == {
        "user:usr_w"
    }
    assert set(_told(t, {"owner_network_ids": ["tremplin"]}, facts)) == {"network:tremplin"}


def test_a_rejected_command_reaches_that_members_feed() -> None:
    rule = RULES["fr.relais.referral.command_rejected.v1"]
    assert domain.feed_members(rule, {"member_id": "mbr_t"}, domain.Facts()) == ["mbr_t"]


def test_a_referral_sent_is_worded_in_french_with_stage_and_commune_name() -> None:
    context = {"stage": "creation", "commune": "80021", "sender_name": "Starter ESS Somme"}
    title, sentence = title_and_sentence("referral.sent", context, "fr", load())
    assert "Création" in title and "Amiens (80021)" in title
    assert sentence.startswith("Starter ESS Somme vous oriente")
    title_en, _ = title_and_sentence("referral.sent", context, "en", load())
    assert "Creation" in title_en


def test_digest_slot_is_the_next_paris_morning() -> None:
    late = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # already the 29th in Paris (DST night)
    day, due = domain.digest_slot(late, 8)
    assert day == "2026-03-29"
    assert due == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)  # 08:00 CEST


def test_ids_are_stable_per_event_and_subject() -> None:
    assert domain.notification_id("e1", "member:m") == domain.notification_id("e1", "member:m")
    assert domain.notification_id("e1", "member:m") != domain.notification_id("e2", "member:m")
    assert domain.message_id("ntf_x", "relais.fr") == "<ntf_x@relais.fr>"


def test_unsubscribe_tokens_are_signed() -> None:
    token = domain.unsubscribe_token("s3cret", "member:m", "referral.sent")
    assert domain.check_unsubscribe_token("s3cret", token) == ("member:m", "referral.sent")
    assert domain.check_unsubscribe_token("other", token) is None
    assert domain.check_unsubscribe_token("s3cret", token.replace("member:m", "member:n")) is None
