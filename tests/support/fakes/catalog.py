"""In-memory ``Catalog``: ``products/{id}`` documents, read as the adapter reads them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.adapters.store.catalog import PRODUCTS, Product
from tests.support.fakes.memory import Faults, Memory


class FakeCatalog(Faults):
    def __init__(self, memory: Memory | None = None) -> None:
        super().__init__()
        self.memory = memory or Memory()

    def add(self, product_id: str, unit_price: str, currency: str = "BRL", *,
            title: str | None = None, active: bool = True, **extra: Any) -> None:
        """A product document as the seed writes it."""
        self.memory.collection(PRODUCTS)[product_id] = {
            "title": title or product_id, "unit_price": unit_price, "currency": currency,
            "active": active, **extra}

    def load(self, ids: list[str]) -> dict[str, Product]:
        from shared.domain.money import quantize, to_decimal

        self._check("load")
        found: dict[str, Product] = {}
        for product_id in ids:
            data = self.memory.read(PRODUCTS, product_id)
            if data is None:
                continue
            try:
                price = quantize(to_decimal(data.get("unit_price")))
            except (ArithmeticError, TypeError, ValueError):
                continue
            currency = str(data.get("currency") or "")
            if price <= Decimal(0) or len(currency) != 3:
                continue
            found[product_id] = Product(
                id=product_id, title=str(data.get("title") or product_id), unit_price=price,
                currency=currency.upper(), active=bool(data.get("active", False)),
                category_id=str(data["category_id"]) if data.get("category_id") else None)
        return found
