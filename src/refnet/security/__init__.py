"""Who may use the API: users and roles, passwords, tokens, sessions, lockout and the audit log.

Nothing here knows about HTTP: the API maps these errors to status codes (`TokenError` → 401,
`LoginRefused` → 401, `LockedOut` → 429, `Conflict` → 409, `InvalidInput` → 422).
"""
