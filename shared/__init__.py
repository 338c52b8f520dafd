"""What both services share: errors, configuration helpers, Redis key names, token verification."""
