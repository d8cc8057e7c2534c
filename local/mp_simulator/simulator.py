"""One simulator instance: the parts wired together, plus reset and shutdown."""

from __future__ import annotations

import threading

from .chargebacks import Chargebacks
from .checkout import Checkout
from .config import SimulatorConfig
from .faults import Faults
from .notifications import Notifier
from .payments import Payments
from .refunds import Refunds
from .scheduler import Scheduler
from .store import Store


class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.scheduler = Scheduler()
        self.notifier = Notifier(config, self.scheduler)
        self.faults = Faults()
        self.payments = Payments(config, self.store, self.notifier, self.scheduler)
        self.refunds = Refunds(config, self.store, self.payments, self.scheduler)
        self.chargebacks = Chargebacks(self.store, self.payments, self.notifier)
        self.checkout = Checkout(config, self.store, self.payments, self.notifier)
        self._stopping = threading.Event()

    def reset(self) -> None:
        """Forget everything: resources, keys, scheduled transitions, faults, notifications."""
        self.scheduler.clear()
        self.notifier.reset()
        self.faults.clear()
        self.refunds.reset()
        self.store.reset()

    def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the simulator stops (faults use it)."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def close(self) -> None:
        self._stopping.set()
        self.scheduler.stop()
        self.notifier.close()
