"""Who is acting and what they may touch: users, roles, scopes, sessions, API tokens."""
