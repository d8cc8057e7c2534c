"""The product catalog (``products/{id}``): prices, titles and currency come from here only."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from google.cloud import firestore

from shared.adapters.store.reads import read_all
from shared.domain.money import quantize, to_decimal
from shared.domain.records import record

PRODUCTS = "products"


@record(frozen=True)
class Product:
    id: str
    title: str
    unit_price: Decimal
    currency: str
    active: bool
    category_id: str | None = None


def product_from(doc_id: str, data: dict[str, Any]) -> Product | None:
    """A product document as pricing reads it; None when it is malformed."""
    try:
        price = quantize(to_decimal(data.get("unit_price")))
    except (InvalidOperation, TypeError, ValueError):
        return None
    currency = str(data.get("currency") or "")
    if price <= 0 or len(currency) != 3:
        return None
    return Product(
        id=doc_id,
        title=str(data.get("title") or doc_id),
        unit_price=price,
        currency=currency.upper(),
        active=bool(data.get("active", False)),
        category_id=str(data["category_id"]) if data.get("category_id") else None,
    )


def load_products(db: firestore.Client, ids: list[str]) -> dict[str, Product]:
    """The products with these ids that exist and are well-formed (one batched read)."""
    refs = [db.collection(PRODUCTS).document(i) for i in ids]
    found: dict[str, Product] = {}
    for snap in read_all(refs):
        if not snap.exists:
            continue
        product = product_from(snap.id, snap.to_dict() or {})
        if product is not None:
            found[snap.id] = product
    return found


class Catalog:
    """The catalog on Firestore, behind the ``Catalog`` port of the use cases."""

    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def load(self, ids: list[str]) -> dict[str, Product]:
        return load_products(self._db, ids)
