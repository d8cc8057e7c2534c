"""``python -m local.mp_simulator --port 8090 ...``: serve until interrupted."""

from __future__ import annotations

import argparse
import logging

from .config import SimulatorConfig, parse_delays
from .server import build


def parse_args(argv: list[str] | None = None) -> SimulatorConfig:
    d = SimulatorConfig()
    p = argparse.ArgumentParser(prog="python -m local.mp_simulator", description=__doc__)
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--access-token", default=d.access_token)
    p.add_argument("--public-key", default=d.public_key)
    p.add_argument("--webhook-secret", default=d.webhook_secret)
    p.add_argument("--currency", default=d.currency)
    p.add_argument("--cont-delay", type=float, default=d.cont_delay,
                   help="seconds before a CONT payment turns approved")
    p.add_argument("--retry-delays", type=parse_delays, default=d.retry_delays,
                   help="webhook retry schedule in seconds, e.g. 1,5,30")
    p.add_argument("--receiver-timeout", type=float, default=d.receiver_timeout,
                   help="seconds a notification receiver gets to answer")
    p.add_argument("--token-ttl", type=float, default=d.token_ttl, help="card token lifetime, s")
    p.add_argument("--user-id", type=int, default=d.user_id)
    p.add_argument("--quiet", action="store_true", help="do not log requests")
    a = p.parse_args(argv)
    return SimulatorConfig(
        host=a.host, port=a.port, access_token=a.access_token, public_key=a.public_key,
        webhook_secret=a.webhook_secret, currency=a.currency, cont_delay=a.cont_delay,
        retry_delays=tuple(a.retry_delays), receiver_timeout=a.receiver_timeout,
        token_ttl=a.token_ttl, user_id=a.user_id, log_requests=not a.quiet,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = parse_args(argv)
    handle = build(config)
    logging.getLogger("local.mp_simulator").info("Mercado Pago simulator on %s", handle.url)
    try:
        handle.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
