"""The chat-completions service, with no Slack in it.

messages    the conversation's messages (ChatMessage), plain data that text code builds without HTTP
client      streams an answer, retries what is worth retrying, names every failure
errors      a refused, redirected or broken call turned into the bot's ModelError, with its fix
sse         the server-sent event stream, decoded however its bytes are cut, each line capped
tool_calls  the model's tool calls, assembled from the fragments a stream brings
transport   httpx's transport over aiohttp's wire: pieces read in blocks, connections kept alive
opening     the client built one way from the settings, for the server, `check` and `chat`
"""
