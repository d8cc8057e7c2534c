"""Seeds the demo catalog into Firestore (the emulator) through the real client.

Idempotent: each product document is written with ``set`` to the same content.

    python -m local.seed [--project demo-mp-local] [--emulator-host 127.0.0.1:8085]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from local.constants import HOST, PROJECT_ID

PRODUCTS: dict[str, dict[str, Any]] = {
    "demo-product": {
        "title": "Demo product",
        "unit_price": "100.00",
        "currency": "BRL",
        "active": True,
        "category_id": "others",
    },
    "demo-product-2": {
        "title": "Second demo product",
        "unit_price": "12.50",
        "currency": "BRL",
        "active": True,
        "category_id": "others",
    },
    "demo-inactive": {
        "title": "Discontinued demo product",
        "unit_price": "50.00",
        "currency": "BRL",
        "active": False,
    },
    # Priced in Mexico's and Argentina's currencies, for their local payment methods
    # (OXXO, PayCash, SPEI; Rapipago, Pago Fácil).
    "demo-product-mx": {
        "title": "Demo product MX",
        "unit_price": "250.00",
        "currency": "MXN",
        "active": True,
        "category_id": "others",
    },
    "demo-product-ar": {
        "title": "Demo product AR",
        "unit_price": "5000.00",
        "currency": "ARS",
        "active": True,
        "category_id": "others",
    },
}


@contextlib.contextmanager
def _emulator_env(host: str | None) -> Iterator[None]:
    """The Firestore client reads FIRESTORE_EMULATOR_HOST when it is built."""
    if host is None:
        yield
        return
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


def seed(
    project: str = PROJECT_ID,
    emulator_host: str | None = None,
    *,
    client: Any = None,
    products: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """Write the demo catalog; returns the product ids written.

    ``emulator_host`` (``host:port``) defaults to ``$FIRESTORE_EMULATOR_HOST``; seeding a
    real Firestore is refused (this is demo data).
    """
    catalog = PRODUCTS if products is None else products
    if client is None:
        host = emulator_host or os.environ.get("FIRESTORE_EMULATOR_HOST")
        if not host:
            raise RuntimeError(
                "refusing to seed without an emulator: set FIRESTORE_EMULATOR_HOST or pass emulator_host"
            )
        from google.cloud import firestore

        with _emulator_env(host):
            client = firestore.Client(project=project)
        try:
            _write(client, catalog)
        finally:
            client.close()
    else:
        _write(client, catalog)
    return list(catalog)


def _write(client: Any, catalog: dict[str, dict[str, Any]]) -> None:
    batch = client.batch()
    collection = client.collection("products")
    for product_id, doc in catalog.items():
        batch.set(collection.document(product_id), dict(doc))
    batch.commit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed the demo catalog into Firestore.")
    parser.add_argument("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT", PROJECT_ID))
    parser.add_argument(
        "--emulator-host",
        default=os.environ.get(
            "FIRESTORE_EMULATOR_HOST", f"{HOST}:{os.environ.get('FIRESTORE_PORT', '8085')}"
        ),
    )
    args = parser.parse_args(argv)
    ids = seed(args.project, args.emulator_host)
    print(f"seeded products {', '.join(ids)} into {args.project} at {args.emulator_host}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
