"""The Slack edge: Bolt listeners that pick out questions and hand them to the answerer, acking at once.

With the durable queue (REDIS_URL), a question is acknowledged only once it is queued (bot/work/intake.py):
Bolt then runs listeners before it responds (`process_before_response`), and a question the queue could not
take gets HTTP 503, so that Slack delivers it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.answer.answerer import Answerer, Attempt, Question
from bot.answer.channel_prompts import ChannelPrompts
from bot.features.agent_tab import SuggestedPrompts
from bot.features.home_tab import AdminPart, admin_section, home_view
from bot.settings import Settings
from bot.single_flight import SingleFlight
from bot.slack.errors import SLACK_FAILURES
from bot.slack.messages import BotIdentity, is_direct_message, mentions_bot
from bot.tasks import TaskTracker
from bot.work.intake import Intake
from bot.work.lifecycle import State as WorkState

logger = logging.getLogger(__name__)

# Message subtypes a person can ask a question with; edits, deletions, joins and the rest are not questions.
QUESTION_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def is_question(event_type: str, event: Mapping[str, Any], identity: BotIdentity) -> bool:
    """Whether this event is a person's message the bot should answer.

    In DMs every message is a question; elsewhere only those that mention the bot. A mention arrives
    twice when the app subscribes to channel messages too (`app_mention` and `message`); both count,
    and the answerer's claim makes sure only one is answered. (Messages without a mention may be meant
    for the bot all the same: bot/answer/addressing.py decides those.)
    """
    if not spoken_by_a_person(event, identity):
        return False
    if event_type == "app_mention":
        return True
    if is_direct_message(str(event["channel"])):
        return True
    return mentions_bot(str(event.get("text") or ""), identity.user_id)


def spoken_by_a_person(event: Mapping[str, Any], identity: BotIdentity) -> bool:
    """A person's message (not a bot's, an edit, a join or a channel notice) in a conversation."""
    if event.get("subtype") not in QUESTION_SUBTYPES or event.get("hidden"):
        return False
    if not event.get("channel") or not event.get("ts"):
        return False
    user = event.get("user")
    return bool(user) and not event.get("bot_id") and user != identity.user_id


def identity_of(context: AsyncBoltContext) -> BotIdentity:
    """Who the bot is, from what Bolt's authorization put in the request's context."""
    return BotIdentity(user_id=context.bot_user_id or "", bot_id=context.bot_id or "")


def edited_thread(event: Mapping[str, Any]) -> str | None:
    """The thread whose cached copy an edit or deletion makes stale, if any."""
    if event.get("subtype") not in ("message_changed", "message_deleted"):
        return None
    changed = event.get("message") or event.get("previous_message") or {}
    thread_ts = changed.get("thread_ts") or changed.get("ts")
    return str(thread_ts) if thread_ts else None


def retry_num(request: AsyncBoltRequest) -> int:
    """Which of Slack's retries this delivery is (`X-Slack-Retry-Num`), 0 for the first delivery."""
    values = request.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(values[0])
    except ValueError:
        return 0


def _expected_token_warnings(record: logging.LogRecord) -> bool:
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused: by design here (the client carries
    the token, and `cached_authorization` authorizes), so the warning would only mislead an operator."""
    message = record.getMessage()
    return not (message.startswith("As you gave `client` as well") or message.startswith("As `installation_store`"))


def cached_authorization(client: AsyncWebClient) -> Callable[[], Awaitable[AuthorizeResult]]:
    """`auth.test` once per process, shared by every request.

    Bolt's own single-workspace authorization calls it for every request that arrives before the first
    answer: a burst of 500 mentions (1,000 deliveries) made 1,000 calls. (A plain function, since Bolt
    passes arguments by the names it finds in the signature.)
    """
    results: list[AuthorizeResult] = []
    flight: SingleFlight[AsyncSlackResponse] = SingleFlight()

    async def authorize() -> AuthorizeResult:
        if not results:
            response = await flight.run("auth.test", client.auth_test)
            results[:] = [AuthorizeResult.from_auth_test_response(auth_test_response=response, bot_token=client.token)]
        return results[0]

    return authorize


def build_slack_app(
    settings: Settings,
    client: AsyncWebClient,
    answerer: Answerer,
    channel_prompts: ChannelPrompts,
    tasks: TaskTracker,
    admin_parts: Sequence[AdminPart] = (),
    suggested_prompts: SuggestedPrompts | None = None,
    intake: Intake | None = None,
) -> AsyncApp:
    bolt_logger = logging.getLogger("slack_bolt")
    bolt_logger.addFilter(_expected_token_warnings)
    app = AsyncApp(
        client=client,
        authorize=cached_authorization(client),
        signing_secret=settings.slack_signing_secret or None,
        request_verification_enabled=not settings.socket_mode,
        logger=bolt_logger,
        # Bolt's self-event filter would also drop the edit or deletion of one of the bot's own answers,
        # and a deleted answer would stay in the cached thread. `is_question` keeps the bot quiet on its own.
        ignoring_self_events_enabled=False,
        # With the queue, the response waits for the question to be queued; listeners return at once anyway.
        process_before_response=intake is not None,
    )

    async def on_message_event(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, request: AsyncBoltRequest
    ) -> BoltResponse | None:
        identity = identity_of(context)
        event_type = str(event.get("type"))
        if event.get("subtype") == "channel_purpose":
            channel_prompts.forget(str(event.get("channel")))
        stale_thread = edited_thread(event)
        if stale_thread is not None:
            tasks.start(answerer.forget_thread(str(event["channel"]), stale_thread), name=f"forget {stale_thread}")
        meant_for_bot = is_question(event_type, event, identity) or (
            event_type == "message"
            and spoken_by_a_person(event, identity)
            and await answerer.following.meant_for_bot(event, identity.user_id)
        )
        if not meant_for_bot:
            logger.debug(
                "event ignored",
                extra={"event_id": body.get("event_id"), "event_type": event_type, "subtype": event.get("subtype")},
            )
            return None
        question = Question(
            event_id=str(body.get("event_id") or ""),
            event_type=event_type,
            channel=str(event["channel"]),
            channel_type=str(event.get("channel_type") or "channel"),
            team_id=event.get("team") or event.get("user_team") or body.get("team_id"),
            message=event,
        )
        if intake is not None:
            life = await intake.accept(question, identity, retry_num(request))
            if not life.acknowledged:
                return BoltResponse(status=503, body="not recorded yet; please retry")
            if life.state is not WorkState.IN_MEMORY:
                return None
            # Slack's last retry, Redis still down: answered here, unless the thread shows it was already.
            attempt = Attempt(queued=False, check_thread=True)
            tasks.start(answerer.answer(question, identity, attempt), name=f"answer {question.channel}/{question.ts}")
            return None
        tasks.start(answerer.answer(question, identity), name=f"answer {question.channel}/{question.ts}")
        return None

    async def on_home_opened(event: dict[str, Any]) -> None:
        user = str(event.get("user") or "")
        if event.get("tab") == "messages" and event.get("channel") and suggested_prompts is not None:
            # The agent tab: under agent_view this event replaces `assistant_thread_started`.
            tasks.start(suggested_prompts.offer(str(event["channel"]), user), name="suggested prompts")
        elif event.get("tab") == "home" and user:
            parts = admin_parts if user in settings.admin_user_ids else ()
            tasks.start(_publish_home(client, user, settings, parts), name="home tab")

    app.event("app_mention")(on_message_event)
    app.event("message")(on_message_event)
    app.event("app_home_opened")(on_home_opened)
    return app


async def _publish_home(client: AsyncWebClient, user: str, settings: Settings, parts: Sequence[AdminPart]) -> None:
    view = home_view(
        settings.inference_model_id,
        settings.allowed_channels,
        await admin_section(parts),
        default_mode=settings.default_reply_mode,
        channel_modes=settings.channel_modes,
        channel_models=settings.channel_models,
    )
    try:
        await client.views_publish(user_id=user, view=view)
    except SLACK_FAILURES as error:
        logger.warning("could not publish the Home tab", extra={"user": user, "error": repr(error)})
        return
    logger.info("home tab published", extra={"user": user})
