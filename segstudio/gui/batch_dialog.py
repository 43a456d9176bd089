"""The shared shell of the export and import dialogs.

A form supplied by the subclass, then a progress bar, the summary text and
Start / Cancel-or-Close buttons around a JobRunner: the job runs on a worker
thread, Cancel takes effect at the library's next check, and the library's
summary (or the error) is shown at the end. Subclasses build the form, turn it
into a job in `start()`, and word the outcome.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import (QDialog, QFormLayout, QHBoxLayout, QPlainTextEdit, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from .jobs import JobRunner

Job = Callable[..., object]  # fn(progress=cb, cancelled=cb) -> summary


class BatchJobDialog(QDialog):
    #: Texts for the subclass to set.
    verb = "Run"
    running_text = "Working…"
    failed_text = "Failed; nothing was written."
    cancelled_text = "Cancelled; nothing was written."

    def __init__(self, parent: QWidget | None):
        super().__init__(parent)
        self.state = "idle"  # idle, running, done, cancelled, failed
        self.summary = None
        self.runner = JobRunner(self)
        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.summary_view = QPlainTextEdit()
        self.summary_view.setReadOnly(True)
        self.start_button = QPushButton(self.verb)
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self._cancel_or_close)

    def _lay_out(self, form: QFormLayout) -> None:
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress_bar)
        lay.addWidget(self.summary_view, 1)
        lay.addLayout(buttons)

    # --- to override -----------------------------------------------------------------------
    def start(self) -> None:
        raise NotImplementedError

    def describe_failure(self, message: str, exc) -> str:
        return f"{self.failed_text}\n\n{message}"

    def accepts_on_close(self) -> bool:
        """Whether closing after the run counts as Accepted."""
        return self.state == "done"

    # --- running ---------------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        self.state = "running"
        self.summary = None
        self.summary_view.setPlainText(self.running_text)
        self.progress_bar.setRange(0, 0)
        self.start_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self.runner.start(job, on_progress=self._on_progress, on_succeeded=self._on_done,
                          on_failed=lambda message, exc: self._finish("failed", self.describe_failure(message, exc)),
                          on_cancelled=self._on_cancelled)

    def _on_progress(self, i: int, n: int) -> None:
        self.progress_bar.setRange(0, max(1, n))
        self.progress_bar.setValue(i)

    def _finish(self, state: str, text: str) -> None:
        self.state = state
        self.summary_view.setPlainText(text)
        self.start_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.cancel_button.setEnabled(True)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1)

    def _on_done(self, summary) -> None:
        self.summary = summary
        self.progress_bar.setValue(self.progress_bar.maximum())
        self._finish("done", "\n".join(summary.lines()))

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self._finish("cancelled", self.cancelled_text)

    def _cancel_or_close(self) -> None:
        if self.state == "running":
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText("Cancelling…")
            self.runner.cancel()
        else:
            self.accept() if self.accepts_on_close() else self.reject()

    def done(self, code: int) -> None:  # noqa: D401 (Qt API) - also called on Esc / window close
        if self.runner.running():
            self.runner.cancel()
            self.runner.stop()
        if self.accepts_on_close():
            code = QDialog.DialogCode.Accepted
        super().done(code)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.runner.stop()
        super().closeEvent(event)
