"""The emulator's ID tokens are memoized per (e-mail, audience, second) without changing them."""

from __future__ import annotations

import base64
import json

import pytest

from local.cloudtasks_emulator.oidc import MEMO_SIZE, Issuer

pytestmark = pytest.mark.integration

SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"
AUD = "https://fulfill.example.test/"


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def test_a_memoized_token_is_the_token_a_fresh_signature_gives() -> None:
    issuer = Issuer()
    first = issuer.mint(SA, AUD, now=1_800_000_000.1)
    assert issuer.mint(SA, AUD, now=1_800_000_000.9) == first  # same second: the memo
    issuer._minted.clear()
    assert issuer.mint(SA, AUD, now=1_800_000_000.5) == first  # signed afresh: same bytes
    assert _claims(first)["iat"] == 1_800_000_000


def test_the_memo_keys_on_email_audience_and_second() -> None:
    issuer = Issuer()
    base = issuer.mint(SA, AUD, now=1_800_000_000)
    later = issuer.mint(SA, AUD, now=1_800_000_001)
    other_aud = issuer.mint(SA, AUD + "x", now=1_800_000_000)
    other_sa = issuer.mint("other@demo-mp-local.iam.gserviceaccount.com", AUD, now=1_800_000_000)
    assert len({base, later, other_aud, other_sa}) == 4
    assert _claims(later)["iat"] == 1_800_000_001
    assert _claims(other_aud)["aud"] == AUD + "x"
    assert _claims(other_sa)["email"] == "other@demo-mp-local.iam.gserviceaccount.com"


def test_the_memo_stays_bounded_and_right() -> None:
    issuer = Issuer()
    tokens = [issuer.mint(SA, f"{AUD}{i}", now=1_800_000_000) for i in range(MEMO_SIZE + 10)]
    assert len(issuer._minted) <= MEMO_SIZE
    assert [_claims(t)["aud"] for t in tokens] == [f"{AUD}{i}" for i in range(MEMO_SIZE + 10)]
    assert issuer.mint(SA, f"{AUD}0", now=1_800_000_000) == tokens[0]
