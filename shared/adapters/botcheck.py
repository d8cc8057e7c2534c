"""The optional bot check of create_payment: a reCAPTCHA Enterprise assessment of the token the
storefront sends in ``X-Recaptcha-Token`` (action ``checkout``).

Off unless ``RECAPTCHA_SITE_KEY`` is set. When on, every new attempt is checked once (tokens
are single-use; an idempotent replay is answered from its record before this runs):

- missing token, invalid token (malformed, expired, reused, another key...), another action,
  or a score under ``RECAPTCHA_MIN_SCORE`` → 403 ``bot_check_failed`` (log event
  ``bot_check_failed`` with ``reason``, never the token);
- the assessment API not answering → 503 ``bot_check_unavailable`` (retryable), or, with
  ``RECAPTCHA_FAIL_OPEN=true``, the attempt goes on (log event ``bot_check_skipped``).

The official client (``google-cloud-recaptcha-enterprise``) is imported on first use only.
``RECAPTCHA_API_HOST`` points it at a local fake over an insecure channel
(``local/recaptcha_fake.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from shared.domain.errors import BotCheckFailed, BotCheckUnavailable
from shared.domain.records import record
from shared.platform import log
from shared.platform.config import Settings

EXPECTED_ACTION = "checkout"
TOKEN_HEADER = "X-Recaptcha-Token"
MAX_TOKEN_CHARS = 4096


@record(frozen=True)
class Verdict:
    """What an assessment said about a token."""

    valid: bool
    invalid_reason: str = ""
    action: str = ""
    score: Decimal = Decimal("0")


class AssessmentUnavailable(Exception):
    """The assessment API did not answer."""


def failure_reason(verdict: Verdict, settings: Settings) -> str | None:
    """Why ``verdict`` fails the check, or None when it passes."""
    if not verdict.valid:
        return f"invalid:{verdict.invalid_reason.lower() or 'unknown'}"
    if verdict.action != EXPECTED_ACTION:
        return "wrong_action"
    if verdict.score < settings.recaptcha_min_score:
        return "low_score"
    return None


def _failed(reason: str) -> BotCheckFailed:
    log.warning("bot_check_failed", "the bot check refused the attempt", reason=reason)
    return BotCheckFailed("the request did not pass the bot check")


class BotCheck:
    def __init__(self, settings: Settings, assess: Callable[[str], Verdict]) -> None:
        self._settings = settings
        self._assess = assess

    def verify(self, token: str | None) -> None:
        """Raise the attempt's 403 / 503, or return when it may go on."""
        if not token:
            raise _failed("missing")
        if len(token) > MAX_TOKEN_CHARS:
            raise _failed("malformed")
        try:
            verdict = self._assess(token)
        except AssessmentUnavailable as exc:
            if self._settings.recaptcha_fail_open:
                log.warning("bot_check_skipped", "the assessment API is not answering; "
                            "RECAPTCHA_FAIL_OPEN lets the attempt go on", error=str(exc))
                return
            log.error("bot_check_unavailable", "the assessment API is not answering",
                      error=str(exc))
            raise BotCheckUnavailable("the bot check is not answering; retry") from exc
        reason = failure_reason(verdict, self._settings)
        if reason is not None:
            raise _failed(reason)


_client_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _client(host: str) -> Any:
    from google.cloud import recaptchaenterprise_v1

    with _client_lock:
        if host not in _clients:
            if host:
                import grpc
                from google.cloud.recaptchaenterprise_v1.services.recaptcha_enterprise_service \
                    .transports import RecaptchaEnterpriseServiceGrpcTransport

                transport = RecaptchaEnterpriseServiceGrpcTransport(
                    channel=grpc.insecure_channel(host))
                _clients[host] = recaptchaenterprise_v1.RecaptchaEnterpriseServiceClient(
                    transport=transport)
            else:
                _clients[host] = recaptchaenterprise_v1.RecaptchaEnterpriseServiceClient()
        return _clients[host]


def recaptcha_assessor(settings: Settings, timeout: float = 5.0) -> Callable[[str], Verdict]:
    """Assess tokens through the official client (imported on the first call)."""

    def assess(token: str) -> Verdict:
        from google.api_core import exceptions as gexc
        from google.cloud import recaptchaenterprise_v1

        client = _client(settings.recaptcha_api_host)
        request = recaptchaenterprise_v1.CreateAssessmentRequest(
            parent=f"projects/{settings.project}",
            assessment=recaptchaenterprise_v1.Assessment(event=recaptchaenterprise_v1.Event(
                token=token, site_key=settings.recaptcha_site_key,
                expected_action=EXPECTED_ACTION)))
        try:
            answer = client.create_assessment(request=request, timeout=timeout)
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            if isinstance(exc, gexc.InvalidArgument):  # the token itself is unusable
                return Verdict(valid=False, invalid_reason="MALFORMED")
            raise AssessmentUnavailable(type(exc).__name__) from exc
        props = answer.token_properties
        return Verdict(
            valid=bool(props.valid),
            invalid_reason=props.invalid_reason.name if not props.valid else "",
            action=str(props.action),
            score=Decimal(str(answer.risk_analysis.score)))

    return assess
