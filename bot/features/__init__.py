"""What is built on answering: catch-up and transcripts, the agent tab, the Home tab and its admin views."""
