"""Offline methods (PIX, tickets, SPEI transfers): validation and the fields they answer with.

The payment itself is built by ``payments.Payments``; here are the method-specific parts:
boleto payer checks, ``date_of_expiration``, the PIX EMV string and QR image, barcodes,
CLABE references and the simulator page URLs (``/sandbox/payments/<id>/ticket``).
"""

from __future__ import annotations

import base64
import struct
import zlib
from datetime import datetime, timedelta
from typing import Any

from . import clock
from .errors import ApiError, bad_request
from .outcomes import OfflineMethod
from .store import Doc

BOLETO_PAYER_FIELDS = (
    ("first_name",),
    ("last_name",),
    ("identification", "type"),
    ("identification", "number"),
    ("address", "zip_code"),
    ("address", "street_name"),
    ("address", "street_number"),
    ("address", "neighborhood"),
    ("address", "city"),
    ("address", "federal_unit"),
)


def _present(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and bool(value.strip())
    )


def validate_boleto_payer(body: dict[str, Any]) -> None:
    """``bolbradesco`` needs the payer's name, document and full address."""
    payer = body.get("payer") if isinstance(body.get("payer"), dict) else {}
    missing = []
    for path in BOLETO_PAYER_FIELDS:
        value: Any = payer
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if not _present(value):
            missing.append("payer." + ".".join(path))
    if missing:
        raise ApiError(
            400,
            "The following payer fields are required for bolbradesco: " + ", ".join(missing),
            [(4000, f"{name} is required") for name in missing],
        )


def date_of_expiration(body: dict[str, Any], method: OfflineMethod, moment: datetime) -> datetime:
    """The request's ``date_of_expiration`` (ISO 8601 with offset) or the method's default."""
    raw = body.get("date_of_expiration")
    if raw is None:
        return moment + timedelta(hours=method.default_expiry_hours)
    if not isinstance(raw, str):
        raise bad_request("date_of_expiration must be an ISO 8601 date", 4000)
    try:
        when = clock.parse_iso(raw)
    except ValueError:
        raise bad_request(f"invalid date_of_expiration: {raw}", 4000) from None
    if when <= moment:
        raise bad_request("date_of_expiration must be a future date", 4000)
    return when


def ticket_url(base_url: str, payment_id: int) -> str:
    return f"{base_url}/sandbox/payments/{payment_id}/ticket"


# --- PIX ---------------------------------------------------------------------------------
def _crc16(data: bytes) -> str:
    """CRC-16/CCITT-FALSE, as the EMV QR (BR Code) checksum."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def pix_qr_code(payment_id: int, amount: float) -> str:
    """A BR Code shaped string (EMV TLV fields with a valid CRC); not a real PIX key."""
    account = _tlv("00", "br.gov.bcb.pix") + _tlv("01", f"sim-{payment_id}@mp-simulator.local")
    text = (
        _tlv("00", "01")
        + _tlv("26", account)
        + _tlv("52", "0000")
        + _tlv("53", "986")
        + _tlv("54", f"{amount:.2f}")
        + _tlv("58", "BR")
        + _tlv("59", "MP SIMULATOR")
        + _tlv("60", "SAO PAULO")
        + _tlv("62", _tlv("05", f"mpqrinter{payment_id}"))
        + "6304"
    )
    return text + _crc16(text.encode())


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
    )


def tiny_png() -> bytes:
    """An 8x8 black-and-white PNG (a stand-in for the QR image)."""
    width = height = 8
    rows = b"".join(
        b"\x00" + bytes(255 if (x + y) % 2 else 0 for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


QR_PNG_BASE64 = base64.b64encode(tiny_png()).decode()


# --- method fields -----------------------------------------------------------------------
def _digits_from(payment_id: int, length: int, prefix: str = "") -> str:
    seed = f"{prefix}{payment_id}"
    text = (seed * (length // len(seed) + 1))[:length]
    return text


def apply_offline_fields(doc: Doc, body: dict[str, Any], base_url: str, expires: datetime) -> None:
    """Method-specific answer fields for a new pending offline payment."""
    method = doc["payment_method_id"]
    pid = doc["id"]
    url = ticket_url(base_url, pid)
    doc["date_of_expiration"] = clock.iso(expires)
    details = doc["transaction_details"]
    if method == "pix":
        doc["point_of_interaction"] = {
            "type": "PIX",
            "sub_type": None,
            "application_data": {"name": None, "version": None},
            "transaction_data": {
                "qr_code": pix_qr_code(pid, doc["transaction_amount"]),
                "qr_code_base64": QR_PNG_BASE64,
                "ticket_url": url,
                "transaction_id": None,
                "bank_transfer_id": None,
                "financial_institution": None,
                "bank_info": {"payer": {}, "collector": {"account_holder_name": "MP Simulator"}},
            },
        }
        details["financial_institution"] = None
        return
    details["external_resource_url"] = url
    if method == "clabe":
        clabe = "646180" + _digits_from(pid, 12)
        details["financial_institution"] = "STP"
        details["payment_method_reference_id"] = clabe
        # As Mercado Pago's SPEI guide shows it: the transfer reference the buyer quotes,
        # under payment_method.data (the instructions are at external_resource_url).
        doc["payment_method"]["data"] = {
            "reference_id": _digits_from(pid, 19, "64"),
            "external_reference_id": body.get("external_reference"),
        }
        doc["point_of_interaction"] = {
            "type": "BANK_TRANSFER",
            "transaction_data": {
                "ticket_url": url,
                "reference_id": clabe,
                "bank_info": {
                    "collector": {
                        "account_holder_name": "MP Simulator",
                        "account_id": clabe,
                        "long_name": "STP",
                    },
                    "payer": {},
                },
            },
        }
        return
    reference = _digits_from(pid, 13)
    details["payment_method_reference_id"] = reference
    if method == "bolbradesco":
        barcode = "2379" + _digits_from(pid, 40, "9")
        doc["barcode"] = {"content": barcode, "type": "Code128C", "width": 1, "height": 30}
        details["digitable_line"] = _digits_from(pid, 47, "23790")
        details["verification_code"] = reference
    else:
        doc["barcode"] = {"content": _digits_from(pid, 30, "0"), "type": "Code128C",
                          "width": 1, "height": 30}
