"""The product catalog (``products/{id}``): prices, titles and currency come from here only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from google.cloud import firestore

from shared.adapters.store.reads import read_all
from shared.domain.money import quantize, to_decimal

PRODUCTS = "products"


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    unit_price: Decimal
    currency: str
    active: bool
    category_id: str | None = None


def load_products(db: firestore.Client, ids: list[str]) -> dict[str, Product]:
    """The products with these ids that exist and are well-formed (one batched read)."""
    refs = [db.collection(PRODUCTS).document(i) for i in ids]
    found: dict[str, Product] = {}
    for snap in read_all(refs):
        if not snap.exists:
            continue
        data = snap.to_dict() or {}
        try:
            price = quantize(to_decimal(data.get("unit_price")))
        except (InvalidOperation, TypeError, ValueError):
            continue
        currency = str(data.get("currency") or "")
        if price <= 0 or len(currency) != 3:
            continue
        found[snap.id] = Product(
            id=snap.id,
            title=str(data.get("title") or snap.id),
            unit_price=price,
            currency=currency.upper(),
            active=bool(data.get("active", False)),
            category_id=str(data["category_id"]) if data.get("category_id") else None,
        )
    return found


class Catalog:
    """The catalog on Firestore, behind the ``Catalog`` port of the use cases."""

    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def load(self, ids: list[str]) -> dict[str, Product]:
        return load_products(self._db, ids)
