"""What is built on answering.

catch_up       *Summarize thread* and `/catchup`, answered privately in the asker's DM
transcript     the conversation to summarize, newest lines kept within the budget
agent_tab      suggested prompts in Slack's agent tab
home_tab       the App Home tab: where the bot answers, and the admins' part
usage_view     tokens used, on the Home tab and in `python -m bot usage`
feedback_view  👍/👎 and the latest downvotes, on the Home tab
"""
