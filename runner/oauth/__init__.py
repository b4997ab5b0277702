"""OAuth2 for connections: token storage, the two grant types, `runner connect`'s flow pieces.

    tokens.py              TokenSet, encryption at rest (HKDF + AES-GCM), TokenVault over the store
    endpoint.py            token requests through the connection's egress policy (Authlib encodes)
    strategy.py            OAuth2Auth: cached token, proactive refresh, one refresh at a time
    client_credentials.py  ClientCredentialsAuth
    authorization_code.py  AuthorizationCodeAuth, authorization URL with state and PKCE
    callback.py            checking a callback's query; the one-shot local listener
    daemon_callback.py     the daemon's GET /oauth/callback for flows started with --via-server
    factory.py             make_auth_factory(store, secrets): what build_runtime calls for oauth2
    wiring.py              helpers for commands and the daemon: open_auth_factory, require_secret_key
"""
