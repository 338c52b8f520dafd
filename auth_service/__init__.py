"""The auth service: accounts, logins, rotating refresh sessions and RS256 access tokens."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from auth_service import jsclient, oauth
from auth_service.accounts import AccountStore
from auth_service.api import auth, bp, refuse_ended_session
from auth_service.clients import ClientStore
from auth_service.config import AuthConfig
from auth_service.context import AuthServices
from auth_service.cookies import init_cookie_mode
from auth_service.email_api import init_email
from auth_service.events import AuthEvents
from auth_service.keys import KeyRing, load_key_ring
from auth_service.passwords import PasswordHasher
from auth_service.ratelimit import RateLimiter
from auth_service.recovery import EmailVerification
from auth_service.sessions import SessionStore
from auth_service.tokens import AccessTokenIssuer, load_refresh_keys
from shared import metrics
from shared.cors import init_cors
from shared.dpop import DPoP, NonceSchedule, ProofVerifier, RedisReplayStore
from shared.errors import register_error_handlers
from shared.http import MAX_BODY_BYTES
from shared.jwt import StaticKeys
from shared.observability import init_observability
from shared.revocation import RevocationPublisher
from shared.store import RedisClient, connect_redis
from shared.verify import add_token_check


def init_dpop(app: Flask, config: AuthConfig, client: RedisClient, keys: KeyRing) -> None:
    """DPoP at the token endpoints and the account endpoints: jtis and the clock in Redis, the
    issuer as the public URL, nonces from DPOP_NONCE_SECRET or else derived from the signing key."""
    nonces = None
    if config.dpop.nonces:
        secret = config.dpop.nonce_secret or keys.derived_secret(b"dpop-nonce")
        nonces = NonceSchedule(secret, config.dpop.nonce_lifetime, server=config.issuer)
    verifier = ProofVerifier(RedisReplayStore(client), window=config.dpop.window, nonces=nonces)
    public_urls = (config.issuer, *config.dpop_public_urls)
    DPoP(app, verifier, public_urls=public_urls, required=config.dpop.required)


def create_app(config: AuthConfig | None = None) -> Flask:
    """Build the auth service from `config` (default: the environment)."""
    config = config or AuthConfig.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    events = AuthEvents(init_observability(app))
    init_cors(app, config.allowed_origins, credentials=True)
    init_cookie_mode(app, config.issuer, config.allowed_origins)
    client = connect_redis(config.redis_url)
    keys = load_key_ring(config.private_key_pems)
    hasher = PasswordHasher(config.hashing)
    revocations = RevocationPublisher(client, token_ttl=config.access_token_ttl, on_failure=events.unpublished)

    def on_reuse(user_id: str, session_id: str) -> None:
        events.reuse(user_id, session_id)
        revocations.sessions_ended([session_id])

    accounts = AccountStore(client, hasher, on_login=events.login)
    limits = RateLimiter(client, config.rate_limits, on_limited=metrics.rate_limited)
    app.extensions["auth"] = AuthServices(
        redis=client,
        accounts=accounts,
        sessions=SessionStore(
            client,
            keys=load_refresh_keys(config.refresh_token_keys),
            max_sessions=config.max_sessions_per_user,
            idle_ttl=config.refresh_token_ttl,
            max_age=config.session_max_age,
            reuse_grace=config.refresh_reuse_grace,
            on_refresh=events.refresh,
            on_reuse=on_reuse,
        ),
        clients=ClientStore(client),
        access_tokens=AccessTokenIssuer(
            keys, issuer=config.issuer, audience=config.audience, ttl=config.access_token_ttl
        ),
        keys=keys,
        limits=limits,
        revocations=revocations,
        events=events,
        email=EmailVerification(client, required=config.email.require_verified) if config.email else None,
    )
    init_email(app, config.email, client, accounts, limits)
    init_dpop(app, config, client, keys)
    register_error_handlers(app)
    auth.init_app(app, issuer=config.issuer, audience=config.audience, keys=StaticKeys(keys.public_keys),
                  leeway=config.clock_skew)
    add_token_check(app, refuse_ended_session)
    app.register_blueprint(bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(jsclient.bp)
    if config.trusted_proxy_count:
        # The client is the address the outermost trusted proxy saw, nothing a client wrote itself.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxy_count, x_proto=0)  # type: ignore[method-assign]
    return app
