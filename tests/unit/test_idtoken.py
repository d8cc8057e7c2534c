"""The caller check of fulfill and reconcile (shared/adapters/idtoken.py).

``cloud_run_iam``: Cloud Run verified the signature and replaced it with its marker; the claims
are checked here. ``verify``: the signature is verified here, a marker token is refused. Google's
certificates are cached for their ``Cache-Control: max-age``; an outage of the certs endpoint is
its own failure (503), never confused with a bad token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from shared import wiring
from shared.adapters import idtoken
from shared.adapters.idtoken import TokenFailure
from tests.support.idtokens import MARKER, CertsServer, Minter, certs_server, unsigned

AUD = "https://fulfill-123456789.us-central1.run.app"
SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"
ISSUERS = ("https://accounts.google.com", "accounts.google.com")


@pytest.fixture(scope="module")
def minter() -> Minter:
    return Minter()


@pytest.fixture
def certs(minter: Minter) -> Iterator[CertsServer]:
    with certs_server(minter.certs()) as server:
        yield server


def check(token: str, certs_url: str = "http://127.0.0.1:9/certs", *, stripped_ok: bool,
          **kw: object) -> idtoken.TokenCheck:
    return idtoken.verify(f"Bearer {token}", audience=AUD, allowed_email=SA, certs_url=certs_url,
                          issuers=ISSUERS, accept_stripped=stripped_ok, **kw)  # type: ignore[arg-type]


class FromNow:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds


# -- cloud_run_iam: a token whose signature Google removed ----------------------------------
def test_marker_token_with_good_claims_is_accepted_without_fetching_certs(minter, certs):
    result = check(minter.stripped(AUD, SA), certs.url, stripped_ok=True)
    assert result.ok and result.status == 200 and result.email == SA
    assert result.signature == "removed_by_google"
    assert certs.hits == 0  # Cloud Run checked the signature; nothing to fetch


def test_marker_token_is_exactly_cloud_run_s_shape(minter):
    token = minter.stripped(AUD, SA)
    assert token.count(".") == 2 and token.rsplit(".", 1)[1] == MARKER


@pytest.mark.parametrize(("overrides", "reason", "status"), [
    ({"aud": "https://fulfill-other.run.app"}, TokenFailure.WRONG_AUDIENCE, 401),
    ({"aud": AUD + "/"}, TokenFailure.WRONG_AUDIENCE, 401),  # exact, not a prefix
    ({"aud": [AUD]}, TokenFailure.WRONG_AUDIENCE, 401),
    ({"aud": None}, TokenFailure.WRONG_AUDIENCE, 401),
    ({"email": "intruder@demo-mp-local.iam.gserviceaccount.com"}, TokenFailure.WRONG_ACCOUNT, 403),
    ({"email": SA.upper()}, TokenFailure.WRONG_ACCOUNT, 403),
    ({"email": None}, TokenFailure.WRONG_ACCOUNT, 403),
    ({"email_verified": False}, TokenFailure.UNVERIFIED_EMAIL, 403),
    ({"email_verified": "true"}, TokenFailure.UNVERIFIED_EMAIL, 403),  # a string is not true
    ({"email_verified": None}, TokenFailure.UNVERIFIED_EMAIL, 403),
    ({"exp": FromNow(-60)}, TokenFailure.EXPIRED, 401),
    ({"exp": None}, TokenFailure.MALFORMED, 401),
    ({"exp": "9999999999"}, TokenFailure.MALFORMED, 401),
    ({"iat": FromNow(120)}, TokenFailure.NOT_YET_VALID, 401),
    ({"iat": None}, TokenFailure.MALFORMED, 401),
    ({"iss": "https://evil.example"}, TokenFailure.WRONG_ISSUER, 401),
    ({"iss": None}, TokenFailure.WRONG_ISSUER, 401),
])
def test_marker_token_with_a_bad_claim_is_refused(minter, overrides, reason, status):
    now = int(time.time())  # times relative to when the test runs, not when it was collected
    overrides = {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in overrides.items()}
    result = check(minter.stripped(AUD, SA, **overrides), stripped_ok=True)
    assert not result.ok and result.failure == reason and result.status == status


def test_clock_skew_is_tolerated_both_ways(minter):
    now = time.time()
    early = minter.stripped(AUD, SA, iat=int(now) + 5)  # the issuer's clock runs a little ahead
    late = minter.stripped(AUD, SA, iat=int(now) - 3600, exp=int(now) - 5)
    assert check(early, stripped_ok=True, now=now).ok
    assert check(late, stripped_ok=True, now=now).ok
    assert check(late, stripped_ok=True, now=now + 6).failure == TokenFailure.EXPIRED


@pytest.mark.parametrize("raw", [
    "", "Bearer", "Basic abc", "Bearer a.b", "Bearer a.b.c.d", f"Bearer !!.??.{MARKER}",
    f"Bearer {unsigned({'aud': AUD})[:-len(MARKER)]}",  # empty signature segment
    "Bearer " + "a" * 9000 + f".b.{MARKER}",
])
def test_missing_or_malformed_tokens_are_401(raw):
    result = idtoken.verify(raw or None, audience=AUD, allowed_email=SA, certs_url="http://x",
                            issuers=ISSUERS, accept_stripped=True)
    assert not result.ok and result.status == 401
    assert result.failure in (TokenFailure.MISSING, TokenFailure.MALFORMED, TokenFailure.BAD_SIGNATURE)


def test_forged_marker_token_is_accepted_only_because_cloud_run_checked_it():
    """The function alone cannot tell a forged marker token from Cloud Run's: that is why the
    mode exists only behind Cloud Run's IAM check (and in `verify` it is refused)."""
    forged = unsigned({"aud": AUD, "email": SA, "email_verified": True, "iss": ISSUERS[0],
                       "iat": int(time.time()), "exp": int(time.time()) + 60})
    assert check(forged, stripped_ok=True).ok
    assert check(forged, stripped_ok=False).failure == TokenFailure.SIGNATURE_REMOVED


# -- verify: the signature is checked here ---------------------------------------------------
def test_verify_mode_refuses_a_marker_token_even_with_good_claims(minter, certs):
    result = check(minter.stripped(AUD, SA), certs.url, stripped_ok=False)
    assert not result.ok and result.failure == TokenFailure.SIGNATURE_REMOVED and result.status == 401


@pytest.mark.parametrize("stripped_ok", [False, True])
def test_a_real_signature_is_verified_in_both_modes(minter, certs, stripped_ok):
    good = check(minter.token(AUD, SA), certs.url, stripped_ok=stripped_ok)
    assert good.ok and good.signature == "verified"
    header, payload, signature = minter.token(AUD, SA).split(".")
    other = Minter().token(AUD, SA, sub="999")  # other claims, other key
    tampered = f"{header}.{other.split('.')[1]}.{signature}"
    assert check(tampered, certs.url, stripped_ok=stripped_ok).failure == TokenFailure.BAD_SIGNATURE
    foreign = f"{header}.{payload}.{other.split('.')[2]}"
    assert check(foreign, certs.url, stripped_ok=stripped_ok).failure == TokenFailure.BAD_SIGNATURE


def test_a_signed_token_with_a_bad_claim_is_refused_for_that_claim(minter, certs):
    result = check(minter.token(AUD, SA, aud="https://other"), certs.url, stripped_ok=False)
    assert result.failure == TokenFailure.WRONG_AUDIENCE
    result = check(minter.token(AUD, "intruder@x.iam.gserviceaccount.com"), certs.url,
                   stripped_ok=False)
    assert result.failure == TokenFailure.WRONG_ACCOUNT and result.status == 403


def test_token_from_headers_prefers_x_serverless_authorization():
    """Cloud Run checks X-Serverless-Authorization when present and passes Authorization on
    untouched: the function must read the header Cloud Run verified."""
    assert idtoken.authorization({"Authorization": "Bearer a", "X-Serverless-Authorization":
                                  "Bearer b"}) == "Bearer b"
    assert idtoken.authorization({"Authorization": "Bearer a"}) == "Bearer a"
    assert idtoken.authorization({}) is None


# -- certificates: cached for max-age, an outage is not a bad token ---------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_certs_are_fetched_once_per_max_age(minter, certs):
    clock = FakeClock()
    cache = idtoken.CertCache(clock=clock)
    certs.cache_control = "public, max-age=300, must-revalidate, no-transform"
    for _ in range(5):
        assert check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache).ok
    assert certs.hits == 1
    clock.now += 299
    assert check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache).ok
    assert certs.hits == 1
    clock.now += 2  # past max-age: fetched again
    assert check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache).ok
    assert certs.hits == 2


def test_the_age_header_shortens_the_cache_and_no_store_disables_it(minter, certs):
    clock = FakeClock()
    cache = idtoken.CertCache(clock=clock)
    certs.cache_control, certs.extra_headers = "public, max-age=300", {"Age": "290"}
    check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache)
    clock.now += 11
    check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache)
    assert certs.hits == 2
    certs.cache_control, certs.extra_headers = "no-store", {}
    clock.now += 11
    for _ in range(3):
        check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache)
    assert certs.hits == 5


def test_the_default_cache_is_shared_across_calls(minter, certs):
    wiring.reset()
    for _ in range(3):
        assert check(minter.token(AUD, SA), certs.url, stripped_ok=False).ok
    assert certs.hits == 1


def test_a_rotated_key_refreshes_the_cached_certs_once(minter, certs):
    clock = FakeClock()
    cache = idtoken.CertCache(clock=clock)
    assert check(minter.token(AUD, SA), certs.url, stripped_ok=False, cache=cache).ok
    rotated = Minter()
    certs.certs = {**minter.certs(), **rotated.certs()}  # Google publishes the new key
    clock.now += 61
    assert check(rotated.token(AUD, SA), certs.url, stripped_ok=False, cache=cache).ok
    assert certs.hits == 2
    # an unknown key id right after a fetch does not make every request fetch again
    for _ in range(3):
        result = check(Minter().token(AUD, SA), certs.url, stripped_ok=False, cache=cache)
        assert result.failure == TokenFailure.BAD_SIGNATURE
    assert certs.hits == 2


@pytest.mark.parametrize("stripped_ok", [False, True])
def test_a_certs_outage_is_503_not_a_bad_token(minter, certs, stripped_ok):
    certs.status = 500
    result = check(minter.token(AUD, SA), certs.url, stripped_ok=stripped_ok,
                   cache=idtoken.CertCache())
    assert result.failure == TokenFailure.CERTS_UNAVAILABLE and result.status == 503
    closed = check(minter.token(AUD, SA), "http://127.0.0.1:9/certs", stripped_ok=stripped_ok,
                   cache=idtoken.CertCache())
    assert closed.failure == TokenFailure.CERTS_UNAVAILABLE and closed.status == 503
    # a bad token is still a bad token while the certs are down, and a marker needs no certs
    bad = check(minter.token(AUD, SA, aud="https://other"), certs.url, stripped_ok=stripped_ok,
                cache=idtoken.CertCache())
    assert bad.failure == TokenFailure.WRONG_AUDIENCE
