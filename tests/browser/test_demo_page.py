"""The demo page in a real Chromium: the whole flow by clicking and typing, the cookie out of
reach of scripts, transparent refreshes, reloads, several tabs, and cross-site pages.

Pages are driven by their labels and roles; every wait is for a condition (a text, a
clock passing a token's expiry), never a fixed sleep. What reached the services is read
from their access logs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import ACCESS_TOKEN_TTL, PASSWORD, Stack

pytestmark = pytest.mark.browser

COOKIE = "__Host-refresh_token"


def email(name: str = "ada") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@teamroom.example"


def open_app(context: Any, stack: Stack) -> Page:
    page: Page = context.new_page()
    page.goto(stack.web_url)
    return page


def expect_signed_in(page: Page, address: str) -> None:
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(address)
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    expect(page.get_by_text("This device")).to_be_visible()


def expect_signed_out(page: Page, message: str) -> None:
    expect(page.get_by_role("status")).to_have_text(message)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Your profile")).to_be_hidden()


def log_in(page: Page, address: str) -> float:
    """Log in through the form; when the page shows the user (the access token's issue is before it)."""
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    page.get_by_label("Email", exact=True).fill(address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect_signed_in(page, address)
    return time.time()


def wait_until_expired(page: Page, issued_before: float) -> None:
    """Wait (on the page's clock, this machine's) until a token issued before `issued_before` expired."""
    page.wait_for_function("deadline => Date.now() >= deadline", arg=(issued_before + ACCESS_TOKEN_TTL + 0.2) * 1000,
                           timeout=(ACCESS_TOKEN_TTL + 10) * 1000)


def directory(page: Page) -> Any:
    return page.get_by_role("table")


def test_the_whole_flow_by_clicking_and_typing(context, stack):
    people = [("Grace Hopper", email("grace")), ("Alan Turing", email("alan")), ("Barbara Liskov", email("barbara")),
              ("Edsger Dijkstra", email("edsger")), ("Frances Allen", email("frances")),
              ("Donald Knuth", email("donald")), ("Katherine Johnson", email("katherine")),
              ("Ken Thompson", email("ken")), ("Margaret Hamilton", email("margaret"))]
    for name, address in people:
        stack.register(address, name)
    page = open_app(context, stack)
    me = email()

    # Register through the form: the page logs in at once.
    page.get_by_text("New here? Create an account").click()
    page.get_by_label("Name").fill("Ada Lovelace")
    page.get_by_label("Work email").fill(me)
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect_signed_in(page, me)
    expect(page.get_by_role("status")).to_have_text("Welcome to Teamroom! Your account is ready.")

    # /me, from the resource service.
    profile = page.get_by_role("region", name="Your profile")
    expect(profile).to_contain_text(me)
    expect(profile).to_contain_text("Member (can read the directory)")

    # The directory, paged 8 at a time: 10 people on two pages.
    expect(directory(page).get_by_role("row")).to_have_count(1 + 8)
    expect(directory(page)).to_contain_text("Grace Hopper")
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2")).to_be_visible()
    expect(directory(page).get_by_role("row")).to_have_count(1 + 2)
    expect(directory(page)).to_contain_text("Ada Lovelace")
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(directory(page)).to_contain_text("Grace Hopper")

    # A second session, from a script; the list shows both, this one marked.
    script = requests.post(f"{stack.auth_url}/login", json={"email": me, "password": PASSWORD}, timeout=10).json()
    page.get_by_role("button", name="Refresh list").click()
    sessions = page.get_by_role("list", name="Your sessions")
    expect(sessions.get_by_role("listitem")).to_have_count(2)
    expect(sessions.get_by_role("listitem", name="Chrome (headless) on Linux, this device")).to_be_visible()
    other = sessions.get_by_role("listitem", name="Python script")
    expect(other.get_by_role("button", name="End session")).to_be_visible()
    expect(sessions.get_by_role("listitem", name="Chrome (headless) on Linux, this device")
           .get_by_role("button")).to_have_count(0)

    # End the other one: gone from the list, and its refresh token is refused.
    other.get_by_role("button", name="End session").click()
    expect(page.get_by_role("status")).to_have_text("Ended the session on Python script.")
    expect(sessions.get_by_role("listitem")).to_have_count(1)
    refused = requests.post(f"{stack.auth_url}/refresh", json={"refresh_token": script["refresh_token"]}, timeout=10)
    assert refused.status_code == 400 and refused.json()["reason"] == "revoked"

    # Log out, log in again, log out everywhere (a script's session ends with it).
    page.get_by_role("button", name="Log out", exact=True).click()
    expect_signed_out(page, "You logged out.")
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    log_in(page, me)
    script = requests.post(f"{stack.auth_url}/login", json={"email": me, "password": PASSWORD}, timeout=10).json()
    page.get_by_role("button", name="Log out everywhere").click()
    expect_signed_out(page, "You logged out on every device.")
    refused = requests.post(f"{stack.auth_url}/refresh", json={"refresh_token": script["refresh_token"]}, timeout=10)
    assert refused.status_code == 400 and refused.json()["reason"] == "revoked"

    # A wrong password says so, in the form.
    page.get_by_label("Email", exact=True).fill(me)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")


def test_without_email_the_page_offers_no_password_reset(context, stack):
    # This module's auth service runs without EMAIL, so it has no /password/forgot to call.
    page = open_app(context, stack)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")  # the page has asked the service
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Forgot password?")).to_be_hidden()


def test_the_refresh_token_is_out_of_reach_of_page_scripts(context, stack):
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    log_in(page, me)
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == (True, True, "Strict", "/")
    assert cookie["domain"] == "localhost"  # a host cookie: no Domain attribute
    token = cookie["value"]
    found = page.evaluate("""async () => ({
        cookie: document.cookie,
        local: JSON.stringify(Object.entries(localStorage)),
        session: JSON.stringify(Object.entries(sessionStorage)),
        databases: JSON.stringify(await indexedDB.databases()),
        caches: JSON.stringify(await caches.keys()),
        html: document.documentElement.outerHTML,
    })""")
    assert COOKIE not in found["cookie"] and token not in found["cookie"]
    for place in ("local", "session", "caches"):
        assert found[place] == "[]", place
    # IndexedDB holds one database: the DPoP key, a CryptoKey no script can read (test_dpop_browser.py).
    assert [db["name"] for db in json.loads(found["databases"])] == ["session-client-dpop"]
    assert token not in found["html"]
    # Nor on the auth service's own origin, where a script could run too.
    page.goto(f"{stack.auth_url}/healthz")
    assert token not in page.evaluate("document.cookie")


def test_an_expired_access_token_is_refreshed_transparently(context, stack):
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    logged_in = log_in(page, me)
    expect(directory(page)).to_contain_text(me)  # the first page came: no call is still on its way
    refreshes = len(stack.statuses(stack.auth, "/refresh"))
    denied = len(stack.statuses(stack.resource, "/users", "GET"))
    wait_until_expired(page, logged_in)
    newcomer = email("newcomer")
    stack.register(newcomer, "Newcomer")

    page.get_by_role("button", name="Reload").click()
    expect(directory(page)).to_contain_text("Newcomer")
    # The old token was refused as expired, one refresh, then the same call again.
    assert stack.statuses(stack.resource, "/users", "GET", since=denied) == [401, 200]
    assert stack.statuses(stack.auth, "/refresh", since=refreshes) == [200]
    expect(page.get_by_role("status")).to_be_hidden()


def test_a_reload_keeps_the_user_logged_in(context, stack):
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    log_in(page, me)
    refreshes = len(stack.statuses(stack.auth, "/refresh"))
    page.reload()
    expect_signed_in(page, me)
    expect(page.get_by_role("region", name="Your profile")).to_contain_text(me)
    # The access token was gone with the page; one cookie-mode refresh brought a new one.
    assert stack.statuses(stack.auth, "/refresh", since=refreshes) == [200]


def click_at(page: Page, name: str, at: float) -> None:
    """Click the button `name` at the wall-clock time `at`, from within the page (tabs click at once)."""
    page.get_by_role("button", name=name, exact=True).evaluate(
        "(button, at) => setTimeout(() => button.click(), at - Date.now())", at * 1000
    )


def test_two_tabs_whose_tokens_expire_together_refresh_once_and_both_go_on(context, stack):
    me = email()
    stack.register(me)
    first = open_app(context, stack)
    log_in(first, me)
    second = open_app(context, stack)
    expect_signed_in(second, me)  # restored by a refresh, whose token the first tab took over
    issued = time.time()
    assert first.evaluate("document.visibilityState") == second.evaluate("document.visibilityState") == "visible"
    # Both tabs must send their call with the expired token before either has a new one. They
    # click at one instant; if a busy machine delays one tab past the other's refresh, that tab
    # simply takes the token handed over (still one refresh), and the test tries again.
    for attempt in range(3):
        wait_until_expired(second, issued)
        refreshes = len(stack.statuses(stack.auth, "/refresh"))
        calls = len(stack.statuses(stack.resource, "/users", "GET"))
        newcomer = f"Newcomer {attempt}"
        stack.register(email("newcomer"), newcomer)

        at = time.time() + 0.5
        click_at(first, "Reload", at)
        click_at(second, "Reload", at)
        expect(directory(first)).to_contain_text(newcomer)
        expect(directory(second)).to_contain_text(newcomer)
        issued = time.time()
        # One refresh served both tabs: the other waited on the lock and took the token handed over.
        assert stack.statuses(stack.auth, "/refresh", since=refreshes) == [200]
        for page in (first, second):
            expect(page.get_by_role("status")).to_be_hidden()
        # Both met the expired token (401) and sent their call again with the new one (200).
        if sorted(stack.statuses(stack.resource, "/users", "GET", since=calls)) == [200, 200, 401, 401]:
            break
    else:
        pytest.fail("in 3 tries the two tabs never sent a call with the expired token at once")


@pytest.mark.parametrize(("button", "message"), [("Log out", "You logged out."),
                                                 ("Log out everywhere", "You logged out on every device.")])
def test_a_logout_in_one_tab_logs_the_other_out(context, stack, button, message):
    me = email()
    stack.register(me)
    first = open_app(context, stack)
    log_in(first, me)
    second = open_app(context, stack)
    expect_signed_in(second, me)
    first.get_by_role("button", name=button, exact=True).click()
    expect_signed_out(first, message)
    expect_signed_out(second, message)  # without anything done in that tab
    # And it stays out after a reload: the cookie is gone.
    second.reload()
    expect(second.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    expect(second.get_by_role("heading", name="Your profile")).to_be_hidden()


def test_a_login_in_one_tab_shows_in_the_other(context, stack):
    me = email()
    stack.register(me)
    first = open_app(context, stack)
    second = open_app(context, stack)
    expect(second.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    log_in(first, me)
    expect_signed_in(second, me)


def test_the_page_says_why_a_session_ended(context, stack):
    """Someone stole the refresh cookie: bound to the page's DPoP key, it is refused to them, and
    the session goes on. Then another device logs out everywhere: at the tab's next refresh the
    session is over, and the page says why."""
    me = email()
    stack.register(me)
    page = open_app(context, stack)
    logged_in = log_in(page, me)
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    stolen = requests.post(f"{stack.auth_url}/refresh", timeout=10,
                           headers={"Session-Mode": "cookie", "Cookie": f"{COOKIE}={cookie['value']}"})
    assert stolen.status_code == 400 and stolen.json()["reason"] == "dpop_key_mismatch"
    elsewhere = requests.post(f"{stack.auth_url}/login", json={"email": me, "password": PASSWORD}, timeout=10).json()
    assert requests.post(f"{stack.auth_url}/logout/all", timeout=10,
                         headers={"Authorization": f"Bearer {elsewhere['access_token']}"}).status_code == 204
    wait_until_expired(page, logged_in)
    page.get_by_role("button", name="Reload").click()
    expect_signed_out(page, "Your session ended: it was ended from this or another device. Please log in again.")
    assert not [c for c in context.cookies() if c["name"] == COOKIE]  # cleared by the refusal


ATTACK = """<!doctype html><title>Win a prize</title><body><h1>Win a prize</h1>
<form id="refresh" method="post" action="{auth}/refresh" target="sink" enctype="text/plain">
  <input name='{{"a":"' value='"}}'></form>
<form id="logout" method="post" action="{auth}/logout" target="sink"><input name="x" value="1"></form>
<iframe name="sink" title="sink"></iframe>
<script type="module">
const auth = "{auth}";
const outcome = async (promise) => {{
  try {{ const r = await promise; return r.type === "opaque" ? "opaque" : String(r.status); }}
  catch (e) {{ return "blocked"; }}
}};
const results = {{}};
results.refresh_cors = await outcome(fetch(auth + "/refresh",
  {{ method: "POST", credentials: "include", headers: {{ "Session-Mode": "cookie" }} }}));
results.logout_cors = await outcome(fetch(auth + "/logout",
  {{ method: "POST", credentials: "include", headers: {{ "Session-Mode": "cookie" }} }}));
results.refresh_no_cors_header = await outcome(fetch(auth + "/refresh",
  {{ method: "POST", credentials: "include", mode: "no-cors", headers: {{ "Session-Mode": "cookie" }} }}));
results.refresh_simple = await outcome(fetch(auth + "/refresh",
  {{ method: "POST", credentials: "include", mode: "no-cors", body: "{{}}" }}));
results.logout_simple = await outcome(fetch(auth + "/logout",
  {{ method: "POST", credentials: "include", mode: "no-cors", body: "{{}}" }}));
const image = new Image();
results.image = await new Promise((done) => {{
  image.onload = () => done("loaded"); image.onerror = () => done("error");
  image.src = auth + "/refresh";
}});
const sink = document.querySelector("iframe");
const sunk = () => new Promise((done) => sink.addEventListener("load", done, {{ once: true }}));
let loaded = sunk(); document.getElementById("refresh").submit(); await loaded;
loaded = sunk(); document.getElementById("logout").submit(); await loaded;
document.title = "done " + JSON.stringify(results);
</script></body>"""

TOP_LEVEL_POST = """<!doctype html><title>Redirecting</title>
<form method="post" action="{auth}/{path}"><input name="refresh_token" value="x"></form>
<script>document.forms[0].submit()</script>"""


def test_a_cross_site_page_cannot_spend_the_cookie(context, stack, attacker_site):
    me = email()
    stack.register(me)
    victim = open_app(context, stack)
    logged_in = log_in(victim, me)
    site, pages = attacker_site
    pages["/prize"] = ATTACK.format(auth=stack.auth_url)
    pages["/refresh"] = TOP_LEVEL_POST.format(auth=stack.auth_url, path="refresh")
    pages["/logout"] = TOP_LEVEL_POST.format(auth=stack.auth_url, path="logout")
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    before = {(path, method): len(stack.access(stack.auth, path, method))
              for path in ("/refresh", "/logout") for method in ("POST", "GET", "OPTIONS")}

    def since(path: str, method: str) -> list[int]:
        return stack.statuses(stack.auth, path, method, since=before[(path, method)])

    # The same browser, another site (127.0.0.1 is not localhost): fetch, no-cors fetch, image, forms.
    attacker = context.new_page()
    attacker.goto(f"{site}/prize")
    expect(attacker).to_have_title(re.compile(r"^done "))
    results = json.loads(attacker.title()[len("done "):])
    assert results["refresh_cors"] == results["logout_cors"] == "blocked"  # the preflight fails
    # Sent, but without Session-Mode: a browser drops a custom header from a no-cors request.
    assert results["refresh_no_cors_header"] == "opaque"
    assert results["refresh_simple"] == results["logout_simple"] == "opaque"
    assert results["image"] == "error"
    # Top-level form posts too (SameSite=Strict sends no cookie; JSON mode would need a token anyway).
    for path in ("refresh", "logout"):
        top = context.new_page()
        top.goto(f"{site}/{path}")
        expect(top).to_have_url(f"{stack.auth_url}/{path}")
        expect(top.locator("body")).to_contain_text("unsupported_media_type")
        top.close()

    # What reached the auth service: the preflights, answered without any CORS header, so the
    # requests with Session-Mode were never sent; plain requests in JSON mode, all refused.
    assert since("/refresh", "OPTIONS") == since("/logout", "OPTIONS") == [204]
    assert since("/refresh", "POST") == [415] * 4 and since("/logout", "POST") == [415] * 3
    assert since("/refresh", "GET") == [405]
    (after,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert after["value"] == cookie["value"]  # never rotated

    # The victim's session still works: after the token expires, its refresh succeeds.
    refreshes = len(stack.statuses(stack.auth, "/refresh"))
    wait_until_expired(victim, logged_in)
    stack.register(email("newcomer"), "Newcomer")
    victim.bring_to_front()
    victim.get_by_role("button", name="Reload").click()
    expect(directory(victim)).to_contain_text("Newcomer")
    assert stack.statuses(stack.auth, "/refresh", since=refreshes) == [200]
    victim.reload()
    expect_signed_in(victim, me)
