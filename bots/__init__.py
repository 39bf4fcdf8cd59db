"""Entry points: CLI, Slack bot, web chat. The composition root lives here; nothing imports bots."""
