"""One set of actions shared by the CLI, the API, the web pages and the agents.

Each action takes the acting user and the database, checks permissions, writes its audit event
and returns domain records. No front door re-implements a rule.
"""
