"""A local reCAPTCHA Enterprise assessment server (``CreateAssessment`` over gRPC), so tests
drive every outcome of create_payment's bot check through the real client library.

The token says what the assessment answers:

| token | answer |
|---|---|
| ``ok-<score>`` (e.g. ``ok-0.9``) | valid, action ``checkout``, that score |
| ``action-<name>`` | valid, action ``<name>``, score 0.9 |
| ``invalid-<REASON>`` (e.g. ``invalid-EXPIRED``) | invalid with that reason |
| ``down`` | gRPC ``UNAVAILABLE`` (the API is not answering) |
| anything else | invalid, ``MALFORMED`` |

A token assessed twice is invalid (``DUPE``) the second time, as reCAPTCHA tokens are
single-use. ``assessments`` counts the calls.

    python -m local.recaptcha_fake --port 8127
"""

from __future__ import annotations

import argparse
import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.cloud import recaptchaenterprise_v1 as rc

SERVICE = "google.cloud.recaptchaenterprise.v1.RecaptchaEnterpriseService"


@dataclass
class FakeState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: set[str] = field(default_factory=set)
    assessments: int = 0


def _answer(token: str, first_use: bool) -> rc.Assessment:
    props = rc.TokenProperties(valid=True, action="checkout")
    score = 0.9
    if not first_use:
        props = rc.TokenProperties(valid=False, invalid_reason="DUPE")
    elif token.startswith("ok-"):
        score = float(token[3:])
    elif token.startswith("action-"):
        props = rc.TokenProperties(valid=True, action=token[7:])
    elif token.startswith("invalid-"):
        props = rc.TokenProperties(valid=False, invalid_reason=token[8:])
    else:
        props = rc.TokenProperties(valid=False, invalid_reason="MALFORMED")
    return rc.Assessment(token_properties=props,
                         risk_analysis=rc.RiskAnalysis(score=score if props.valid else 0.0))


def _handler(state: FakeState) -> grpc.GenericRpcHandler:
    def create(request: rc.CreateAssessmentRequest, context: Any) -> rc.Assessment:
        token = request.assessment.event.token
        with state.lock:
            state.assessments += 1
            first = token not in state.seen
            state.seen.add(token)
        if token == "down":
            context.abort(grpc.StatusCode.UNAVAILABLE, "the fake is down for this token")
        return _answer(token, first)

    return grpc.method_handlers_generic_handler(SERVICE, {
        "CreateAssessment": grpc.unary_unary_rpc_method_handler(
            create, request_deserializer=rc.CreateAssessmentRequest.deserialize,
            response_serializer=rc.Assessment.serialize)})


@dataclass
class FakeHandle:
    host: str
    port: int
    state: FakeState
    _server: Any

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.stop(grace=0.2).wait(timeout=5)


def start_fake(host: str = "127.0.0.1", port: int = 0) -> FakeHandle:
    state = FakeState()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((_handler(state),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind {host}:{port}")
    server.start()
    return FakeHandle(host, bound, state, server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.recaptcha_fake")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8127)
    args = parser.parse_args(argv)
    fake = start_fake(args.host, args.port)
    print(f"reCAPTCHA fake on {fake.target}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
