"""Schemathesis against the running create_payment, generating requests from
docs/openapi.yaml: no server error and no answer outside the document."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.openapi import DOCUMENT

pytestmark = pytest.mark.e2e

# Bounded: examples per operation (the coverage phase adds its boundary cases on top).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
CHECKS = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                   "response_headers_conformance", "response_schema_conformance"])


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(live, tmp_path):
    schemathesis = Path(sys.executable).parent / "schemathesis"
    done = subprocess.run(
        [str(schemathesis), "run", str(DOCUMENT), "--url", live.endpoints.create_payment,
         "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "20261201",
         "--phases", "examples,coverage,fuzzing", "--workers", "2",
         "--generation-database", "none", "--request-timeout", "20", "--no-color",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, check=False)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "API Operations:" in done.stdout or "passed" in done.stdout.lower(), report
