"""The demo page's email flows in a real Chromium, over a real SMTP server and the mailer:
"Forgot password?" through the mail's link to logged in with the new password, and the
verify-email landing with REQUIRE_VERIFIED_EMAIL=on.

The links are followed as they come in the mails (PUBLIC_URL is the page's origin). Pages
are driven by their labels and roles, every wait is for a condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Stack
from tests.browser.test_demo_page import email, expect_signed_in, log_in, open_app, wait_until_expired
from tests.smtp import ReceivedMail, SmtpSink

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a brand new passphrase"
RESET, VERIFY = "Reset your password", "Confirm your email address"
DEAD_LINK = "This link was used already, replaced by a newer one, or has expired."


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    # One mail of a kind an hour per address after a burst of 3: the throttling test meets the 429.
    return {"EMAIL": "on", "REQUIRE_VERIFIED_EMAIL": "on", "MAIL_EMAIL_LIMIT": "1", "MAIL_ADDRESS_LIMIT": "0"}


@pytest.fixture
def other_device(browser: Any) -> Iterator[Any]:
    """A second browser profile: another device of the same user."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    yield context
    context.close()


def sink(stack: Stack) -> SmtpSink:
    assert stack.mail is not None
    return stack.mail


def link_of(stack: Stack, mail: ReceivedMail, path: str) -> str:
    """The mail's link, which must open the page's `path`."""
    assert mail.link.startswith(f"{stack.web_url}{path}?token="), mail.link
    return mail.link


def verified_account(stack: Stack) -> str:
    address = email()
    stack.register(address)
    token = sink(stack).wait_for(address, VERIFY).token
    assert requests.post(f"{stack.auth_url}/email/verify", json={"token": token}, timeout=10).status_code == 204
    return address


def fill_login(page: Page, address: str, password: str) -> None:
    page.get_by_label("Email", exact=True).fill(address)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_a_forgotten_password_is_reset_from_the_mail_link_and_every_old_session_ends(context, other_device, stack):
    me = verified_account(stack)
    # The old sessions: a browser on another device, and a script.
    old_page = open_app(other_device, stack)
    logged_in = log_in(old_page, me)
    script = requests.post(f"{stack.auth_url}/login", json={"email": me, "password": PASSWORD}, timeout=10).json()

    # A fresh browser: "Forgot password?" takes the address typed so far.
    page = open_app(context, stack)
    page.get_by_label("Email", exact=True).fill(me)
    page.get_by_role("button", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(page.get_by_label("Email of your account")).to_have_value(me)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status")).to_have_text(
        f"If an account has the address {me}, a mail is on its way with a link to choose a new password.")

    # The mail's link opens the page's reset form.
    link = link_of(stack, sink(stack).wait_for(me, RESET), "/reset-password")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    # A password against the rules: the server's reason, and the link still works.
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("alert")).to_have_text("Password must have at least 8 characters.")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your password was changed, and every device signed in to your account was signed out. "
        "Log in with your new password.")
    expect(page).to_have_url(f"{stack.web_url}/")  # the token is gone from the address bar

    # The old password is refused, the new one logs in.
    fill_login(page, me, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect_signed_in(page, me)

    # Every old session is over: the script's refresh token, and the other device at its next refresh.
    refused = requests.post(f"{stack.auth_url}/refresh", json={"refresh_token": script["refresh_token"]}, timeout=10)
    assert (refused.status_code, refused.json().get("reason")) == (400, "password_changed")
    wait_until_expired(old_page, logged_in)
    old_page.get_by_role("button", name="Refresh list").click()
    expect(old_page.get_by_role("status")).to_have_text(
        "Your session ended: the password was changed. Please log in again.")
    expect(old_page.get_by_role("button", name="Log in", exact=True)).to_be_visible()

    # The link worked once: followed again, it says so and leads back to "Forgot password?".
    again = context.new_page()
    again.goto(link)
    again.get_by_label("New password", exact=True).fill("yet another passphrase")
    again.get_by_role("button", name="Set new password").click()
    expect(again.get_by_role("heading", name="This link no longer works")).to_be_visible()
    expect(again.get_by_role("alert")).to_have_text(DEAD_LINK)
    again.get_by_role("button", name="Ask for a new link").click()
    expect(again.get_by_role("heading", name="Reset your password")).to_be_visible()
    expect(again).to_have_url(f"{stack.web_url}/")
    assert requests.post(f"{stack.auth_url}/login", json={"email": me, "password": NEW_PASSWORD},
                         timeout=10).status_code == 200


def test_the_verify_link_lets_a_new_account_log_in(context, stack):
    me = email("grace")
    page = open_app(context, stack)
    page.get_by_text("New here? Create an account").click()
    page.get_by_label("Work email").fill(me)
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Your account is ready. We sent a link to {me}: open it to confirm your address, then log in.")
    first = sink(stack).wait_for(me, VERIFY)

    # Not confirmed yet: the login is refused, and the page offers the link again.
    expect(page.get_by_label("Email", exact=True)).to_have_value(me)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "Confirm your email address first: open the link in the mail we sent you.")
    page.get_by_role("button", name="Send the link again").click()
    expect(page.get_by_role("status")).to_have_text(f"A new link is on its way to {me}. Open it, then log in.")
    expect(page.get_by_role("button", name="Send the link again")).to_be_hidden()
    second = sink(stack).wait_for(me, VERIFY, count=2)

    # The first link was replaced by the second: its landing offers to send one more.
    page.goto(link_of(stack, first, "/verify-email"))
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(DEAD_LINK)
    page.get_by_label("Email to confirm").fill(me)
    page.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_role("status")).to_have_text(
        f"If {me} has an account waiting to be confirmed, a new link is on its way.")
    third = sink(stack).wait_for(me, VERIFY, count=3)
    assert len({first.token, second.token, third.token}) == 3

    # The newest link confirms the address on load; then the login works.
    page.goto(link_of(stack, third, "/verify-email"))
    expect(page.get_by_role("status")).to_have_text("Your email address is confirmed. You can log in now.")
    expect(page).to_have_url(f"{stack.web_url}/")
    log_in(page, me)
    assert stack.statuses(stack.auth, "/email/verify")[-2:] == [400, 204]


def test_too_many_reset_requests_say_when_to_try_again(context, stack):
    page = open_app(context, stack)
    page.get_by_role("button", name="Forgot password?").click()
    nobody = email("nobody")  # no account: the answers are the same as for one
    page.get_by_label("Email of your account").fill(nobody)
    send = page.get_by_role("button", name="Send reset link")
    asked = len(stack.statuses(stack.auth, "/password/forgot"))
    for _ in range(3):  # the burst; each click waits for the button, off while its request runs
        send.click()
        expect(page.get_by_role("status")).to_contain_text(f"If an account has the address {nobody}")
        expect(send).to_be_enabled()
    send.click()
    waiting = re.compile(r"Too many requests for now\. Try again in \d+ minutes\.")
    expect(page.get_by_role("alert")).to_have_text(waiting)
    expect(send).to_be_disabled()  # until Retry-After has passed
    assert stack.statuses(stack.auth, "/password/forgot", since=asked) == [202, 202, 202, 429]
    assert sink(stack).to(nobody) == []


def test_a_link_without_its_token_says_it_does_not_work(context, stack):
    for path in ("/reset-password", "/verify-email"):
        page = context.new_page()
        page.goto(f"{stack.web_url}{path}")
        expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(DEAD_LINK)
        page.close()
