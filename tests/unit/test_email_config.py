"""EMAIL=on settings: each bad or missing one stops the start, naming it; off, none is read."""

from __future__ import annotations

import pytest

from auth_service.config import EmailConfig, SmtpConfig
from auth_service.mail import compose, describe_duration, link_for
from shared.config import ConfigError

GOOD = {"EMAIL": "on", "SMTP_URL": "smtp://mail.example.com", "MAIL_FROM": "Auth <auth@example.com>",
        "PUBLIC_URL": "https://app.example.com/"}


def test_email_is_off_by_default_and_then_reads_nothing_else():
    assert EmailConfig.from_env({}) is None
    assert EmailConfig.from_env({"EMAIL": "off", "SMTP_URL": "nonsense"}) is None


def test_the_defaults():
    config = EmailConfig.from_env(GOOD)
    assert config is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == ("mail.example.com", 25, "plain")
    assert config.public_url == "https://app.example.com"
    assert (config.password_reset_ttl, config.verify_ttl, config.require_verified) == (1800, 86_400, False)


@pytest.mark.parametrize("url, expected", [
    ("smtp://127.0.0.1:1025", ("127.0.0.1", 1025, "plain", "", "")),
    ("smtps://u%40x:p%3Ass@mail.example.com", ("mail.example.com", 465, "tls", "u@x", "p:ss")),
    ("smtp+starttls://user:secret@mail.example.com", ("mail.example.com", 587, "starttls", "user", "secret")),
])
def test_smtp_urls(url, expected):
    smtp = SmtpConfig.from_url(url)
    assert (smtp.host, smtp.port, smtp.security, smtp.username, smtp.password) == expected
    assert "secret" not in repr(smtp) and "p:ss" not in repr(smtp)


@pytest.mark.parametrize("overrides, variable", [
    ({"SMTP_URL": ""}, "SMTP_URL"),
    ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com:99999"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://mail.example.com/path"}, "SMTP_URL"),
    ({"MAIL_FROM": ""}, "MAIL_FROM"),
    ({"MAIL_FROM": "not an address"}, "MAIL_FROM"),
    ({"PUBLIC_URL": ""}, "PUBLIC_URL"),
    ({"PUBLIC_URL": "app.example.com"}, "PUBLIC_URL"),
    ({"PASSWORD_RESET_TTL": "0"}, "PASSWORD_RESET_TTL"),
    ({"EMAIL_VERIFY_TTL": "soon"}, "EMAIL_VERIFY_TTL"),
    ({"EMAIL": "maybe"}, "EMAIL"),
    ({"REQUIRE_VERIFIED_EMAIL": "sure"}, "REQUIRE_VERIFIED_EMAIL"),
    ({"MAIL_EMAIL_LIMIT": "-1"}, "MAIL_EMAIL_LIMIT"),
])
def test_a_bad_setting_is_named(overrides, variable):
    with pytest.raises(ConfigError, match=variable):
        EmailConfig.from_env({**GOOD, **overrides})


def test_requiring_verified_email_needs_email():
    with pytest.raises(ConfigError, match="REQUIRE_VERIFIED_EMAIL=on needs EMAIL=on"):
        EmailConfig.from_env({"REQUIRE_VERIFIED_EMAIL": "on"})


@pytest.mark.parametrize("seconds, words", [(1, "1 second"), (90, "90 seconds"), (1800, "30 minutes"),
                                            (3600, "1 hour"), (86_400, "1 day"), (172_800, "2 days")])
def test_durations_in_words(seconds, words):
    assert describe_duration(seconds) == words


@pytest.mark.parametrize("flow, subject", [("reset", "Reset your password"), ("verify", "Confirm your email address")])
def test_each_mail_has_a_text_and_an_html_part_with_link_purpose_expiry_and_what_if_not_you(flow, subject):
    link = link_for("https://app.example.com", flow, "abc.def")
    mail = compose(flow, mail_from="Auth <auth@example.com>", to="ada@example.com", link=link, ttl=1800)
    assert mail["Subject"] == subject and mail["To"] == "ada@example.com" and mail["Message-ID"]
    plain, html = (mail.get_body((kind,)).get_content() for kind in ("plain", "html"))  # type: ignore[union-attr]
    for text in (plain, html):
        assert link in text and "ada@example.com" in text and "app.example.com" in text
        assert "expires in 30 minutes" in text and "works once" in text
        assert "If this was not you, ignore this mail" in text
    assert f'href="{link}"' in html
