"""Who may see what: a Slack link or a catch-up never shows anyone a conversation they could not read themselves."""

from __future__ import annotations

import pytest

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
