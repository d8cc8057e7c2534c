"""Mercado Pago API simulator for local runs and tests (never deployed).

``start_simulator(**opts)`` runs it in-process; ``python -m local.mp_simulator`` runs it
stand-alone. See ``__main__`` for the flags and ``control`` for the ``/_sim/`` endpoints.
"""

from .config import SimulatorConfig
from .server import SimulatorHandle, start_simulator
from .signing import manifest, signature_header

__all__ = ["SimulatorConfig", "SimulatorHandle", "manifest", "signature_header", "start_simulator"]
