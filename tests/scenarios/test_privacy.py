"""Who may see what: a Slack link or a catch-up never shows anyone a conversation they could not read themselves."""

from __future__ import annotations

import pytest

from bot.notices import CATCH_UP_NOT_YOURS
from tests.conftest import RunningBot
from tests.fakes.events import EventSender, message_shortcut
from tests.fakes.model_api import FakeModel, Reply, text_of
from tests.fakes.slack_api import BOT_USER_ID, FakeSlack

MENTION = f"<@{BOT_USER_ID}>"


def link_to(message: dict[str, object]) -> str:
    return f"https://test.slack.com/archives/{message['channel']}/p{str(message['ts']).replace('.', '')}"


async def ask_about(fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, asker: str, link: str) -> str:
    """`asker` asks about `link` in #general; returns what the model was sent (the reply is checked too)."""
    question = fake_slack.post_as_person("C1", asker, f"{MENTION} what does <{link}|this> say?")
    fake_model.script.append(Reply(["I can't see that."]))
    await events.mention(question)
    [reply] = await fake_slack.wait_for_replies("C1", str(question["ts"]))
    assert "I could not open" in reply
    return str(fake_model.requests[-1]["messages"])


@pytest.mark.parametrize("asker", ["UGUEST", "UEXTERNAL"])
async def test_a_public_channel_is_not_opened_for_a_guest_or_an_outsider_who_is_not_in_it(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, asker: str
) -> None:
    """Guests and people of another organisation (Slack Connect) see only the channels they are in, public
    or not: a link to another public channel tells them nothing."""
    fake_slack.guests.add("UGUEST")
    fake_slack.user_teams["UEXTERNAL"] = "T0OTHER"
    fake_slack.channel_members["C9"] = {BOT_USER_ID, "UBOB"}
    secret = fake_slack.post_as_person("C9", "UBOB", "Salaries go up 4% in March")
    sent = await ask_about(fake_slack, fake_model, events, asker, link_to(secret))
    assert "Salaries" not in sent
    assert all(call.params["channel"] != "C9" for call in fake_slack.calls_to("conversations.replies"))


async def test_a_guest_in_the_public_channel_gets_the_link(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_slack.guests.add("UGUEST")
    fake_slack.channel_members["C9"] = {BOT_USER_ID, "UBOB", "UGUEST"}
    message = fake_slack.post_as_person("C9", "UBOB", "Standup moves to 10:00")
    question = fake_slack.post_as_person("C1", "UGUEST", f"{MENTION} when is <{link_to(message)}>?")
    await events.mention(question)
    await fake_slack.wait_for_replies("C1", str(question["ts"]))
    assert "Standup moves to 10:00" in text_of(fake_model.requests[0]["messages"][-1])


@pytest.mark.parametrize("channel", ["DUBOB", "GMPIM"])
async def test_the_bots_dm_or_a_group_dm_with_others_is_never_opened(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, channel: str
) -> None:
    """Bob's DM with the bot (or a group DM Alice is not in): Alice's link to it reveals nothing."""
    fake_slack.private_channels[channel] = {BOT_USER_ID, "UBOB"}
    secret = fake_slack.post_as_person(channel, "UBOB", "my password hint is the dog's name")
    sent = await ask_about(fake_slack, fake_model, events, "UALICE", link_to(secret) + f"?thread_ts={secret['ts']}")
    assert "password" not in sent


async def test_a_follow_up_after_the_asker_left_the_private_channel_no_longer_reads_it(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Alice summarized a thread of a private channel, then left it: her later questions in the DM thread
    are answered without reading the channel again."""
    fake_slack.private_channels["G5"] = {BOT_USER_ID, "UALICE", "UBOB"}
    root = fake_slack.post_as_person("G5", "UBOB", "Reorg: team A merges into B")
    fake_model.script.append(Reply(["A reorg is planned."]))
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    dm = fake_slack.dm_channel("UALICE")
    await fake_slack.wait_for(lambda: bool(fake_slack.messages.get(dm)))
    root_ts = str(fake_slack.messages[dm][0]["ts"])
    await fake_slack.wait_for_replies(dm, root_ts, count=2)

    fake_slack.private_channels["G5"].discard("UALICE")
    fake_slack.post_as_person("G5", "UBOB", "Layoffs announced Monday", thread_ts=str(root["ts"]))
    question = fake_slack.post_as_person(dm, "UALICE", "Anything new?", thread_ts=root_ts)
    await events.message(question, channel_type="im")
    await fake_slack.wait_for_replies(dm, root_ts, count=3)
    await bot.runtime.tasks.wait()
    assert "Layoffs" not in str(fake_model.requests[1]["messages"])


async def test_links_past_the_cap_are_counted_in_the_answer_not_dropped_silently(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    """Five links in one question: the first three are opened, the answer says two more were not."""
    messages = [fake_slack.post_as_person("C9", "UBOB", f"note {n}") for n in range(5)]
    links = " ".join(f"<{link_to(message)}>" for message in messages)
    question = fake_slack.post_as_person("C1", "UALICE", f"{MENTION} compare {links}")
    await events.mention(question)
    [reply] = await fake_slack.wait_for_replies("C1", str(question["ts"]))
    sent = text_of(fake_model.requests[0]["messages"][-1])
    assert [f"note {n}" in sent for n in range(5)] == [True, True, True, False, False]
    assert reply.endswith("_…and 2 more Slack links I did not open: I follow at most 3 in a question._")


async def ask_in(fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, channel: str, link: str) -> str:
    """Alice, a full member who may read the linked channel, asks about `link` in `channel`; returns the reply."""
    question = fake_slack.post_as_person(channel, "UALICE", f"{MENTION} what does <{link}|this> say?")
    fake_model.script.append(Reply(["I can't see that."]))
    if channel.startswith("D"):
        await events.message(question, channel_type="im")
    else:
        await events.mention(question)
    [reply] = await fake_slack.wait_for_replies(channel, str(question["ts"]))
    return reply


@pytest.mark.parametrize(
    "flags",
    [
        {"is_ext_shared": True, "is_shared": True, "shared_team_ids": ["T0001", "T0OTHER"]},
        {"is_pending_ext_shared": True},
    ],
    ids=["slack-connect", "invitation-pending"],
)
async def test_a_public_channel_is_not_carried_into_a_channel_shared_with_another_company(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, flags: dict[str, object]
) -> None:
    """Alice may read #internal, but the answer goes where another company's people read it."""
    fake_slack.channel_flags["C1"] = flags
    secret = fake_slack.post_as_person("C9", "UBOB", "We are acquiring Initech in May")
    reply = await ask_in(fake_slack, fake_model, events, "C1", link_to(secret))
    assert "Initech" not in str(fake_model.requests[-1]["messages"])
    assert "Initech" not in reply
    assert f"_I did not open {link_to(secret)} here: not everyone in this conversation may be able to see it." in reply
    assert all(call.params["channel"] != "C9" for call in fake_slack.calls_to("conversations.replies"))


@pytest.mark.parametrize("guests", ["guests", "single_channel_guests"])
async def test_a_public_channel_is_not_carried_into_a_channel_with_a_guest(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, guests: str
) -> None:
    """A guest in #general who is not in #internal would read in the answer what #internal says."""
    getattr(fake_slack, guests).add("UGUEST")
    fake_slack.channel_members["C1"] = {BOT_USER_ID, "UALICE", "UBOB", "UGUEST"}
    secret = fake_slack.post_as_person("C9", "UBOB", "We are acquiring Initech in May")
    reply = await ask_in(fake_slack, fake_model, events, "C1", link_to(secret))
    assert "Initech" not in str(fake_model.requests[-1]["messages"])
    assert "not everyone in this conversation may be able to see it" in reply


async def test_the_same_link_is_followed_in_the_askers_dm_or_among_full_members(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender
) -> None:
    fake_slack.channel_flags["C1"] = {"is_ext_shared": True, "is_shared": True}
    fake_slack.channel_members["C2"] = {BOT_USER_ID, "UALICE", "UBOB"}
    secret = fake_slack.post_as_person("C9", "UBOB", "We are acquiring Initech in May")
    await ask_in(fake_slack, fake_model, events, "DALICE", link_to(secret))
    assert "Initech" in str(fake_model.requests[-1]["messages"])
    await ask_in(fake_slack, fake_model, events, "C2", link_to(secret))
    assert "Initech" in str(fake_model.requests[-1]["messages"])


async def test_when_slack_cannot_say_who_reads_the_channel_the_link_is_not_followed(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, caplog: pytest.LogCaptureFixture
) -> None:
    """conversations.members refused (a missing scope, say): nothing is carried, the asker and the log say why."""
    fake_slack.refused_methods.add("conversations.members")
    secret = fake_slack.post_as_person("C9", "UBOB", "We are acquiring Initech in May")
    reply = await ask_in(fake_slack, fake_model, events, "C1", link_to(secret))
    assert "Initech" not in str(fake_model.requests[-1]["messages"])
    assert f"_I did not open {link_to(secret)}: Slack could not tell me who may see it." in reply
    assert "access denied: Slack could not tell who reads the conversation" in caplog.text


async def test_a_catch_up_goes_to_the_dm_only_if_the_asker_may_read_the_conversation(
    fake_slack: FakeSlack, fake_model: FakeModel, events: EventSender, bot: RunningBot
) -> None:
    """Alice left the private channel before her shortcut arrived: no summary, and the model is not asked."""
    fake_slack.private_channels["G5"] = {BOT_USER_ID, "UBOB"}
    root = fake_slack.post_as_person("G5", "UBOB", "Reorg: team A merges into B")
    await events.interact(message_shortcut(root, "UALICE", fake_slack.response_url("r1")))
    await fake_slack.wait_for(lambda: bool(fake_slack.responses))
    await bot.runtime.tasks.wait()
    assert [response["text"] for response in fake_slack.responses] == [CATCH_UP_NOT_YOURS]
    assert fake_model.requests == []
    assert not fake_slack.messages.get(fake_slack.dm_channel("UALICE"))
