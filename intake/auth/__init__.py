"""Staff authentication: who may open the staff pages, and for how long.

- `sessions`: sessions held in the database (the cookie carries only a random id), ended by
  logout, password change, a disabled account, idle time and the absolute lifetime;
- `logins`: the password and second-factor steps, throttled per account whatever the address,
  every failure, lock and success written to the audit log;
- `passwords`: the policy a chosen staff password must meet (zxcvbn), with Chinese reasons;
- `totp`: the optional second factor (RFC 6238 codes, secrets sealed with the keyring);
- `apitokens`: personal API tokens for the staff API (shown once, only a digest kept).

Functions take `now` from the caller, so tests drive time with a clock they set.
"""
