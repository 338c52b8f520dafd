"""The deny list's rules: which tokens an entry refuses, and when entries go."""

from __future__ import annotations

import pytest

from shared.revocation import DenyList, Revocation, parse_entry, revocation_fields

T0 = 1_800_000_000.0
TTL, LEEWAY = 900, 30


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def claims(sid: str = "s1", sub: str = "u1", iat: float = T0 - 10) -> dict[str, object]:
    return {"sid": sid, "sub": sub, "iat": iat}


def test_an_ended_session_refuses_its_tokens_and_no_others(clock: Clock) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock)
    deny.add(Revocation(sids=("s1", "s2"), token_ttl=TTL, at=T0))
    assert deny.denies(claims("s1")) and deny.denies(claims("s2"))
    assert not deny.denies(claims("s3"))
    assert not deny.denies({"sub": "client", "iat": T0})  # client tokens have no sid


@pytest.mark.parametrize(
    ("token", "refused"),
    [
        (claims("a", iat=T0 - 1), True),  # issued before the cut-off
        (claims("a", iat=T0), False),  # in the cut-off's second: the event's sids decide
        (claims("a", iat=T0 + 5), False),  # a new login after it
        (claims("kept", iat=T0 - 1), False),  # the session that made the password change
        (claims("a", sub="u2", iat=T0 - 1), False),  # another user
    ],
)
def test_a_user_cutoff_refuses_earlier_tokens_but_the_kept_session(
    clock: Clock, token: dict[str, object], refused: bool
) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock)
    deny.add(Revocation(user_id="u1", not_before=int(T0), keep_sid="kept", token_ttl=TTL, at=T0))
    assert deny.denies(token) is refused


def test_entries_stay_until_ttl_plus_leeway_after_the_revocation(clock: Clock) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock)
    deny.add(Revocation(sids=("s1",), token_ttl=TTL, at=T0))
    deny.add(Revocation(user_id="u1", not_before=int(T0), token_ttl=TTL, at=T0))
    clock.now = T0 + TTL + LEEWAY - 1
    deny.prune()
    assert deny.denies(claims("s1")) and deny.denies(claims("other"))
    assert len(deny) == 2
    clock.now = T0 + TTL + LEEWAY
    assert not deny.denies(claims("s1")) and not deny.denies(claims("other"))
    deny.prune()
    assert len(deny) == 0


def test_an_entry_older_than_a_token_lifetime_is_not_kept(clock: Clock) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock)
    deny.add(Revocation(sids=("s1",), token_ttl=TTL, at=T0 - TTL - LEEWAY))
    assert len(deny) == 0 and not deny.denies(claims("s1"))


def test_a_later_revocation_of_the_same_session_extends_it(clock: Clock) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock)
    deny.add(Revocation(sids=("s1",), token_ttl=TTL, at=T0))
    deny.add(Revocation(sids=("s1",), token_ttl=TTL, at=T0 + 100))
    clock.now = T0 + TTL + LEEWAY + 1
    deny.prune()  # drops the first entry's queue item, not the sid the second still holds
    assert deny.denies(claims("s1"))


def test_the_cap_drops_the_entries_closest_to_expiry(clock: Clock) -> None:
    deny = DenyList(leeway=LEEWAY, now=clock, max_entries=3)
    for i in range(5):
        deny.add(Revocation(sids=(f"s{i}",), token_ttl=TTL, at=T0 + i))
    assert len(deny) == 3 and deny.evicted == 2
    assert [deny.denies(claims(f"s{i}")) for i in range(5)] == [False, False, True, True, True]


def test_stream_fields_read_back() -> None:
    fields = revocation_fields(sids=["a", "b"], user_id="u", not_before=7, keep_sid="k", token_ttl=900)
    parsed = parse_entry(b"1800000000123-4", {k.encode(): v.encode() for k, v in fields.items()})
    assert parsed == Revocation(sids=("a", "b"), user_id="u", not_before=7, keep_sid="k", token_ttl=900,
                                at=1_800_000_000.123)
    assert parse_entry(b"1-0", {b"sids": b"a"}) is None  # no ttl: not ours
