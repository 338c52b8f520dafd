"""DPoP in a real Chromium: the JS client's key is made non-extractable, kept in IndexedDB across a
reload, binds the session and its access tokens, and what an onlooker copies of the traffic is
useless without it."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from shared.dpop import jwk_thumbprint
from tests.browser.conftest import Stack
from tests.browser.test_demo_page import email, expect_signed_in, log_in, open_app

pytestmark = pytest.mark.browser

# Reads the page's DPoP key out of IndexedDB as a page script could: the key objects, and what
# WebCrypto lets a script do with them.
READ_KEY = """async () => {
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("session-client-dpop");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  const pairs = await new Promise((resolve, reject) => {
    const request = db.transaction("keys").objectStore("keys").getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  db.close();
  const pair = pairs[0];
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  let exported = "exported";
  try {
    await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  } catch (error) {
    exported = error.name;
  }
  let wrapped = "wrapped";
  try {
    const wrapper = await crypto.subtle.generateKey({ name: "AES-KW", length: 256 }, true, ["wrapKey"]);
    await crypto.subtle.wrapKey("pkcs8", pair.privateKey, wrapper, "AES-KW");
  } catch (error) {
    wrapped = error.name;
  }
  return {
    count: pairs.length,
    extractable: pair.privateKey.extractable,
    usages: pair.privateKey.usages,
    exported,
    wrapped,
    jwk: { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y },
  };
}"""


def page_key(page: Page) -> dict[str, Any]:
    return page.evaluate(READ_KEY)  # type: ignore[no-any-return]


def session_keys(stack: Stack) -> list[str]:
    """The DPoP thumbprints the live sessions in Redis are bound to."""
    thumbprints = []
    for key in stack.redis.scan_iter("user:*:session:*"):
        jkt = stack.redis.hget(key, "jkt")
        if jkt is not None and not stack.redis.hget(key, "ended"):
            thumbprints.append(jkt.decode())
    return thumbprints


def test_the_key_is_not_extractable_survives_a_reload_and_binds_the_session(context, stack: Stack) -> None:
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    log_in(page, me)
    key = page_key(page)
    assert key["count"] == 1
    assert key["extractable"] is False and key["usages"] == ["sign"]
    assert key["exported"] == "InvalidAccessError" and key["wrapped"] == "InvalidAccessError"
    thumbprint = jwk_thumbprint(key["jwk"])
    assert session_keys(stack) == [thumbprint]

    refreshes = len(stack.statuses(stack.auth, "/refresh"))
    page.reload()
    expect_signed_in(page, me)
    # The same key, from IndexedDB: the cookie-mode refresh after the reload carried its proof.
    assert jwk_thumbprint(page_key(page)["jwk"]) == thumbprint
    assert stack.statuses(stack.auth, "/refresh", since=refreshes) == [200]
    assert session_keys(stack) == [thumbprint]


def test_what_an_onlooker_copies_is_useless_without_the_key(context, stack: Stack) -> None:
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    seen: list[dict[str, str]] = []
    page.on("request", lambda request: seen.append(request.headers) if request.url.startswith(
        f"{stack.resource_url}/users") else None)
    log_in(page, me)
    expect(page.get_by_role("table")).to_contain_text(me)
    headers = next(h for h in seen if h.get("authorization", "").startswith("DPoP "))
    token = headers["authorization"].removeprefix("DPoP ")
    assert headers.get("dpop", "").count(".") == 2  # a proof rode along

    as_bearer = requests.get(f"{stack.resource_url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert as_bearer.status_code == 401
    assert as_bearer.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    no_proof = requests.get(f"{stack.resource_url}/me", headers={"Authorization": f"DPoP {token}"}, timeout=5)
    assert no_proof.status_code == 401 and no_proof.json()["error"] == "invalid_dpop_proof"
    # The proof seen with it is for GET /users only: no other URL, no other method.
    other_url = requests.get(f"{stack.resource_url}/me", headers={"Authorization": f"DPoP {token}",
                                                                   "DPoP": headers["dpop"]}, timeout=5)
    assert other_url.status_code == 401 and "htu" in other_url.json()["error_description"]
    # Nor at the auth service's account endpoints.
    sessions = requests.get(f"{stack.auth_url}/sessions", headers={"Authorization": f"DPoP {token}",
                                                                   "DPoP": headers["dpop"]}, timeout=5)
    assert sessions.status_code == 401
