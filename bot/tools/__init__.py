"""Tools an answer may call: the team's MCP servers and Slack search, each call bounded, logged and approved.

    base      a tool, its result and the toolbox that runs a model's call: timeout, capped result, one log line
    approval  who must say yes before a tool that changes something runs, and the decisions' states
    mcp       MCP servers over Streamable HTTP (the `mcp` SDK, only here): tools listed, named, called
    kit       the tools of one question: MCP's, and search where the event allows it
    search    `search_slack`: Slack's `assistant.search.context`, limited to what the thread may see

The answer layer runs the loop (bot/answer/tool_loop.py); results are redacted there, like every text.
"""
