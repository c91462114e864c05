"""The model client, built one way for the server, `check` and `chat`, from the settings."""

from __future__ import annotations

import httpx

from bot.model.client import ModelClient, RetryPolicy
from bot.model.transport import AiohttpTransport
from bot.settings import Settings


def open_model_client(settings: Settings) -> ModelClient:
    """An httpx client over aiohttp's wire (bot/model/transport.py): the cost of a streamed piece is in the wire."""
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.model_connect_timeout_seconds,
            read=settings.model_read_timeout_seconds,
            write=settings.model_read_timeout_seconds,
            pool=settings.model_timeout_seconds,
        ),
        transport=AiohttpTransport(),
    )
    return ModelClient(
        http,
        base_url=settings.inference_url,
        api_key=settings.inference_key,
        model_id=settings.inference_model_id,
        timeout_seconds=settings.model_timeout_seconds,
        retry=RetryPolicy(max_attempts=settings.model_max_attempts),
        secrets=settings.secrets,
    )
