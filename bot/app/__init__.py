"""The process: settings to a running bot.

runtime        the clients, store and answerer built from the settings, and shut down in order
server         HTTP (Heroku) or Socket Mode, and SIGTERM
welcome        GET /: the mode, which settings are set, the Request URL to paste into Slack
signature      a delivery refused for its signature: one warning a minute naming SLACK_SIGNING_SECRET
listeners      Bolt's app and its event listeners: which messages are questions
interactivity  shortcuts, slash commands and buttons
thread_buttons *Stop following* and *Get a human* under an answer
check          `python -m bot check`: every setting and connection tried, each problem with its fix
chat           `python -m bot chat`: the model in the terminal
"""
