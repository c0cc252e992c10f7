"""The audit log's sequencer process (`riskwatch worker reviews-sequencer`): integrates
committed audit entries into the Merkle tree and signs a checkpoint, every
RISKWATCH_AUDIT_SEQUENCE_INTERVAL_SECONDS (0.5 s) or at once while a backlog remains.
Run it on as many replicas as you like: a database lock lets one batch run at a time."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from shared.db import Database
from shared.transparency.log import Batch, Sequencer
from shared.transparency.settings import get_audit_settings, get_signer

log = logging.getLogger("riskwatch.audit.sequencer")


class SequencerProcess:
    def __init__(self, sequencer: Sequencer, *, interval_seconds: float) -> None:
        self.sequencer = sequencer
        self.interval_seconds = interval_seconds
        self.stopping = threading.Event()

    def run_once(self) -> Batch:
        return self.sequencer.run_once()

    def run_forever(self) -> None:
        log.info("audit sequencer running every %ss", self.interval_seconds)
        while not self.stopping.is_set():
            try:
                batch = self.sequencer.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database restarting: wait, retry
                log.exception("sequencing the audit log failed; retrying")
                self.stopping.wait(max(self.interval_seconds, 5.0))
                continue
            # A full batch means a backlog (e.g. history migrated from the hash chain).
            if batch.integrated < self.sequencer.batch_size:
                self.stopping.wait(self.interval_seconds)

    def install_signal_handlers(self) -> None:
        def _stop(signum: int, _frame: FrameType | None) -> None:
            log.info("audit sequencer stopping (signal %s)", signum)
            self.stopping.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


def build_sequencer(db: Database) -> SequencerProcess:
    settings = get_audit_settings()
    signer = get_signer()
    sequencer = Sequencer(db, signer, origin=settings.origin, batch_size=settings.batch_size,
                          witnesses=settings.witnesses(signer.verifier))
    return SequencerProcess(sequencer, interval_seconds=settings.sequence_interval_seconds)
