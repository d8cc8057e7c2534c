"""Settings of one simulator instance (CLI flags and ``start_simulator`` keywords)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    access_token: str = "TEST-local-access-token"
    public_key: str = "TEST-local-public-key"
    webhook_secret: str = "dev-webhook-secret"
    currency: str = "BRL"
    cont_delay: float = 2.0  # seconds before a CONT payment turns approved
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)  # webhook retry schedule, seconds
    receiver_timeout: float = 22.0  # seconds a notification receiver gets to answer
    token_ttl: float = 7 * 24 * 3600.0  # card token lifetime, seconds
    user_id: int = 1234567890  # collector / notification user_id
    delivery_workers: int = 16
    log_requests: bool = False


def parse_delays(text: str) -> tuple[float, ...]:
    """``"1,5,30"`` -> ``(1.0, 5.0, 30.0)``; an empty string means no retries."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    delays = tuple(float(p) for p in parts)
    if any(d < 0 for d in delays):
        raise ValueError("retry delays must be >= 0")
    return delays
