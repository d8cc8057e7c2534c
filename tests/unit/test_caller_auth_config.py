"""CALLER_AUTH: one setting decides how fulfill and reconcile check their caller; a caller check
that cannot run is a start-up error, never a silently skipped check."""

from __future__ import annotations

import pytest

from shared.platform.config import ConfigError, Settings

BASE = {"GOOGLE_CLOUD_PROJECT": "p"}
FULFILL = {"FULFILL_AUTH_AUDIENCE": "https://fulfill-1.us-central1.run.app",
           "FULFILL_ALLOWED_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com"}
RECONCILE = {"RECONCILE_AUTH_AUDIENCE": "https://reconcile-1.us-central1.run.app",
             "RECONCILE_ALLOWED_SERVICE_ACCOUNT": "scheduler@p.iam.gserviceaccount.com"}
EMULATORS = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8085", "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:8123"}


def test_caller_auth_defaults_to_verify_and_accepts_the_three_modes():
    assert Settings.from_env(BASE).caller_auth == "verify"
    for mode in ("cloud_run_iam", "verify", "off"):
        assert Settings.from_env({**BASE, "CALLER_AUTH": mode}).caller_auth == mode
    with pytest.raises(ConfigError, match="CALLER_AUTH"):
        Settings.from_env({**BASE, "CALLER_AUTH": "none"})


@pytest.mark.parametrize("mode", ["cloud_run_iam", "verify"])
@pytest.mark.parametrize(("function", "complete"), [("fulfill", FULFILL), ("reconcile", RECONCILE)])
def test_a_missing_audience_or_account_is_an_error_in_every_checking_mode(mode, function, complete):
    s = Settings.from_env({**BASE, **complete, "CALLER_AUTH": mode})
    policy = s.caller_policy(function)
    assert policy.mode == mode and policy.audience and policy.allowed_account
    for missing in complete:
        env = {**BASE, **complete, "CALLER_AUTH": mode}
        del env[missing]
        with pytest.raises(ConfigError, match=missing):
            Settings.from_env(env).caller_policy(function)


def test_the_default_mode_without_audience_is_an_error_not_a_skipped_check():
    with pytest.raises(ConfigError, match="FULFILL_AUTH_AUDIENCE"):
        Settings.from_env(BASE).caller_policy("fulfill")
    with pytest.raises(ConfigError, match="RECONCILE_AUTH_AUDIENCE"):
        Settings.from_env(BASE).caller_policy("reconcile")


def test_off_is_refused_outside_the_emulators():
    for partial in ({}, {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8085"},
                    {"CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:8123"}):
        with pytest.raises(ConfigError, match="CALLER_AUTH=off"):
            Settings.from_env({**BASE, **FULFILL, **partial, "CALLER_AUTH": "off"}
                              ).caller_policy("fulfill")
    policy = Settings.from_env({**BASE, **EMULATORS, "CALLER_AUTH": "off"}).caller_policy("reconcile")
    assert policy.mode == "off"


def test_each_function_checks_only_its_own_settings():
    s = Settings.from_env({**BASE, **FULFILL, "CALLER_AUTH": "cloud_run_iam"})
    assert s.caller_policy("fulfill").audience == FULFILL["FULFILL_AUTH_AUDIENCE"]
    with pytest.raises(ConfigError):
        s.caller_policy("reconcile")
    Settings.from_env({**BASE, "CALLER_AUTH": "cloud_run_iam"})  # other functions start fine
