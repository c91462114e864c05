"""The process: settings to running server, Bolt's listeners and interactivity, and the `check` and `chat` commands."""
