"""The local stack launcher: readiness, clear failures, and no process left behind."""

# ruff: noqa: F811 - pytest fixtures imported from tests.support are redefined as parameters

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.processes import free_ports
from local.seed import PRODUCTS, seed
from local.stack import (
    REPO_ROOT,
    StackOptions,
    StackPorts,
    function_env,
    standard_services,
)
from local.supervisor import RestartPolicy, ServiceDied, ServiceSpec, ServiceStartError, Stack
from tests.support.stack_fixtures import (  # noqa: F401 - fixtures used below
    FirestoreEmulator,
    firestore_emulator,
    firestore_project,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

STANDIN = str(Path(__file__).resolve().parent.parent / "support" / "standin.py")


# -- an independent check: which live processes are in a process group? -----------------


def live_group_members(pgid: int) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        state, pgrp = fields[0].decode(), int(fields[2])
        if pgrp == pgid and state != "Z":
            found.append((int(entry), state))
    return found


def assert_group_gone(pgid: int) -> None:
    assert live_group_members(pgid) == [], f"process group {pgid} still has live members"
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return
    # Only zombies waiting for init to reap them may remain.
    assert live_group_members(pgid) == []


def standin(name: str, *args: str, port: int | None = None, **spec: object) -> ServiceSpec:
    argv = [sys.executable, STANDIN, *args]
    ready_url = None
    if port is not None:
        argv += ["--port", str(port)]
        ready_url = f"http://127.0.0.1:{port}/"
    spec.setdefault("ready_url", ready_url)
    spec.setdefault("timeout", 10.0)
    return ServiceSpec(name=name, argv=argv, **spec)  # type: ignore[arg-type]


# -- launcher ---------------------------------------------------------------------------


def test_starts_services_in_order_and_waits_for_readiness(tmp_path: Path) -> None:
    a, b = free_ports(2)
    stack = Stack(
        [
            standin("slow", "--delay", "0.5", "--print", "hello from slow", port=a),
            standin(
                "teapot",
                "--status",
                "418",
                "--body",
                "short and stout",
                port=b,
                ready_status=418,
                ready_body="short and stout",
            ),
        ],
        tmp_path,
    )
    started = time.monotonic()
    with stack:
        assert time.monotonic() - started >= 0.5
        with urllib.request.urlopen(f"http://127.0.0.1:{a}/") as response:
            assert response.read() == b"Ok"
        pgids = stack.pgids
        assert set(pgids) == {"slow", "teapot"}
        for name, pgid in pgids.items():
            assert pgid != os.getpgid(0)
            assert os.getpgid(stack.pid(name)) == pgid  # own process group
            assert live_group_members(pgid)
    for pgid in pgids.values():
        assert_group_gone(pgid)
    assert "hello from slow" in (tmp_path / "slow.log").read_text()


def test_a_service_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    a, b = free_ports(2)
    stack = Stack(
        [standin("good", port=a), standin("broken", "--fail-with", "3", port=b)],
        tmp_path,
    )
    with pytest.raises(ServiceStartError) as info:
        stack.start()
    err = info.value
    assert err.service == "broken"
    text = str(err)
    assert "'broken'" in text and "exit code 3" in text
    assert "boom: giving up with exit code 3" in text  # the log tail
    assert str(tmp_path / "broken.log") in text
    # the service started before it was stopped
    for pgid in stack.pgids.values():
        assert_group_gone(pgid)


def test_a_service_that_never_gets_ready_times_out_clearly(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    stack = Stack(
        [standin("stuck", "--never-ready", "--print", "still warming up", port=port, timeout=1.0)],
        tmp_path,
    )
    started = time.monotonic()
    with pytest.raises(ServiceStartError) as info:
        stack.start()
    assert time.monotonic() - started < 5
    text = str(info.value)
    assert "not ready after 1 s" in text and f"127.0.0.1:{port}" in text
    assert "still warming up" in text
    assert_group_gone(stack.pgids["stuck"])


def test_a_port_already_in_use_is_reported_before_starting(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        stack = Stack([standin("late", port=port, ports=(port,))], tmp_path)
        with pytest.raises(ServiceStartError, match=f"'late' cannot start: port {port} .* in use"):
            stack.start()
    assert stack.pgids == {}  # nothing was started


def test_a_missing_program_is_reported(tmp_path: Path) -> None:
    stack = Stack([ServiceSpec("ghost", ["/nonexistent/program"])], tmp_path)
    with pytest.raises(ServiceStartError, match="'ghost' could not be started"):
        stack.start()


def test_stop_kills_the_whole_group_even_when_it_ignores_sigterm(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    stack = Stack(
        [standin("stubborn", "--ignore-term", "--spawn-child", "--child-ignores-term", port=port)],
        tmp_path,
        grace=0.5,
    )
    stack.start()
    pgid = stack.pgids["stubborn"]
    wait_until(lambda: len(live_group_members(pgid)) >= 2)
    started = time.monotonic()
    stack.stop()
    assert time.monotonic() - started < 5
    assert_group_gone(pgid)
    stack.stop()  # idempotent


def test_a_dying_service_is_detected_and_everything_stops(tmp_path: Path) -> None:
    a, b = free_ports(2)
    stack = Stack(
        [
            standin("steady", "--spawn-child", port=a),
            # the leader exits after 0.5 s; its child (same group) stays behind
            standin("flaky", "--spawn-child", "--exit-after", "0.5", port=b),
        ],
        tmp_path,
    )
    with stack:
        pgids = stack.pgids
        with pytest.raises(ServiceDied) as info:
            stack.wait(poll_interval=0.05)
        assert info.value.service == "flaky"
        assert "exit code 7" in str(info.value)
        assert "standin: exiting on purpose" in str(info.value)
        assert live_group_members(pgids["flaky"])  # the orphaned child, before stop
    for pgid in pgids.values():
        assert_group_gone(pgid)


def test_a_service_with_a_restart_policy_is_restarted_with_backoff(tmp_path: Path) -> None:
    """A dying service with a restart policy is restarted (its orphans killed first), each
    time after a longer back-off, with a log line; the state file follows its pid. A service
    without a policy still stops the stack."""
    import threading

    a, b = free_ports(2)
    state = tmp_path / "stack.json"
    stack = Stack(
        [
            standin("steady", port=a, ports=(a,)),
            standin("flaky", "--spawn-child", "--exit-after", "0.3", port=b, ports=(b,),
                    restart=RestartPolicy(initial_backoff=0.1, max_backoff=0.4,
                                          stable_after=60)),
        ],
        tmp_path,
        state_file=state,
    )
    errors: list[BaseException] = []

    def supervise() -> None:
        try:
            stack.wait(poll_interval=0.02)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    with stack:
        first = json.loads(state.read_text())
        assert first["ports"] == {"steady": a, "flaky": b}
        first_pgid = stack.pgids["flaky"]
        supervisor = threading.Thread(target=supervise, daemon=True)
        supervisor.start()
        wait_until(lambda: stack.restarts()["flaky"] >= 3, timeout=30)
        assert not errors, errors
        assert_group_gone(first_pgid)  # the dead leader's child was killed before the restart
        log = (tmp_path / "flaky.log").read_text()
        delays = [line.split("restarting it in ")[1].split(" s")[0]
                  for line in log.splitlines() if "restarting it in" in line]
        assert delays[:3] == ["0.1", "0.2", "0.4"], log
        assert "flaky exited with exit code 7" in log
        wait_until(lambda: json.loads(state.read_text())["pids"]["flaky"] != first["pids"]["flaky"])
        assert json.loads(state.read_text())["pids"]["steady"] == first["pids"]["steady"]
        os.kill(stack.pid("steady"), signal.SIGKILL)  # no policy: the stack stops
        supervisor.join(timeout=10)
        assert errors and isinstance(errors[0], ServiceDied) and errors[0].service == "steady"
    assert not state.exists()  # a stopped stack leaves no stale state behind


SUPERVISOR = textwrap.dedent(
    """
    import json, sys
    from local.console import say
    from local.processes import Terminated, terminate_on_signals
    from local.supervisor import ServiceSpec, Stack
    ports = json.loads(sys.argv[1])
    standin = sys.argv[2]
    services = [
        ServiceSpec(f"s{i}", [sys.executable, standin, "--port", str(p), sys.argv[4]],
                    ready_url=f"http://127.0.0.1:{p}/")
        for i, p in enumerate(ports)
    ]
    with terminate_on_signals():
        stack = Stack(services, sys.argv[3], console=True)
        try:
            stack.start()
            say("PGIDS " + json.dumps(stack.pgids))
            stack.wait()
        except (KeyboardInterrupt, Terminated):
            say("interrupted")
        finally:
            stack.stop()
            say("stopped")
    """
)


def _start_supervisor(
    tmp_path: Path, spawn_child: bool = True
) -> tuple[subprocess.Popen[str], dict[str, int]]:
    ports = free_ports(2)
    extra = "--spawn-child" if spawn_child else "--print=no-child"
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, json.dumps(ports), STANDIN, str(tmp_path), extra],
        cwd=REPO_ROOT,
        # unbuffered, as CI runs it: print() would then write text and newline apart
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a stray signal to our group cannot reach it
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    output = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.startswith("PGIDS "):
            pgids: dict[str, int] = json.loads(line[6:])
            if spawn_child:
                for pgid in pgids.values():
                    wait_until(lambda pgid=pgid: len(live_group_members(pgid)) >= 2)
            return proc, pgids
    proc.kill()
    raise AssertionError("supervisor did not start:\n" + "".join(output))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_supervisor_stops_everything_on_ctrl_c_and_sigterm(tmp_path: Path, sig: int) -> None:
    proc, pgids = _start_supervisor(tmp_path)
    # the console gets each service's output, prefixed with its name
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=20)
    assert "stopped" in out
    for pgid in pgids.values():
        assert_group_gone(pgid)


def test_services_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    # No cleanup is possible after SIGKILL: the kernel's parent-death signal (SIGTERM) stops
    # each service's leader. (A leader's own children are then the leader's business.)
    proc, pgids = _start_supervisor(tmp_path, spawn_child=False)
    proc.kill()
    proc.wait(timeout=10)
    for pgid in pgids.values():
        wait_until(lambda pgid=pgid: not live_group_members(pgid))
        assert_group_gone(pgid)


def test_console_output_is_prefixed_and_logged(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (port,) = free_ports(1)
    with Stack([standin("chatty", "--print", "hello console", port=port)], tmp_path, console=True):
        pass
    out = capfd.readouterr().out
    assert any(line.startswith("chatty") and "hello console" in line for line in out.splitlines())
    assert "hello console" in (tmp_path / "chatty.log").read_text()


# -- the standard stack's wiring ---------------------------------------------------------


def test_function_environment_follows_the_contract() -> None:
    ports = StackPorts.from_env({"FULFILL_PORT": "9083", "FIRESTORE_PORT": "9085"})
    assert ports.fulfill == 9083 and ports.firestore == 9085 and ports.create_payment == 8081
    caller = {
        "MERCHANT_WEBHOOK_URL": "http://127.0.0.1:9999/hook",
        "LOG_LEVEL": "DEBUG",
        "GOOGLE_CLOUD_PROJECT": "some-real-project",  # never wins over the stack's wiring
        "MP_ACCESS_TOKEN_FILE": "/etc/secrets/x",  # would be ambiguous with the literal
        "PYTHONPATH": "/elsewhere",
    }
    env = function_env(ports, StackOptions(base_env=caller))
    expected = {
        "GOOGLE_CLOUD_PROJECT": "demo-mp-local",
        "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9085",
        "MP_API_BASE_URL": "http://127.0.0.1:8090",
        "MP_ACCESS_TOKEN": "TEST-local-access-token",
        "MP_WEBHOOK_SECRET": "dev-webhook-secret",
        "NOTIFICATION_URL": "http://127.0.0.1:8082",
        "FULFILL_URL": "http://127.0.0.1:9083",
        "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:8123",
        "TASKS_SERVICE_ACCOUNT": "tasks-invoker@demo-mp-local.iam.gserviceaccount.com",
        "FULFILL_AUTH_AUDIENCE": "http://127.0.0.1:9083",
        "RECONCILE_AUTH_AUDIENCE": "http://127.0.0.1:8084",
        "RECONCILE_ALLOWED_SERVICE_ACCOUNT": "scheduler@demo-mp-local.iam.gserviceaccount.com",
        "FULFILL_ALLOWED_SERVICE_ACCOUNT": "tasks-invoker@demo-mp-local.iam.gserviceaccount.com",
        "ID_TOKEN_CERTS_URL": "http://127.0.0.1:8124/oauth2/v1/certs",
        "CALLER_AUTH": "cloud_run_iam",  # behind the local front end, as deployed
        "CORS_ALLOWED_ORIGINS": ",".join(f"http://{h}:{p}" for p in (8080, 3000, 5173)
                                         for h in ("127.0.0.1", "localhost")),
        "MERCHANT_WEBHOOK_SECRET": "dev-merchant-webhook-secret",
        "MERCHANT_WEBHOOK_URL": "http://127.0.0.1:9999/hook",
        "LOG_LEVEL": "DEBUG",
        "FULFILL_QUEUE": "fulfill",
        "MERCHANT_EVENTS_QUEUE": "merchant-events",
        "FULFILL_MAX_ATTEMPTS": "10",  # the queue's max_attempts
        "TASKS_LOCATION": "us-central1",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert "MP_ACCESS_TOKEN_FILE" not in env
    assert env["PYTHONPATH"].split(os.pathsep) == [str(REPO_ROOT), "/elsewhere"]
    # the caller may choose the merchant secret and CORS origins
    env = function_env(
        ports,
        StackOptions(base_env={"MERCHANT_WEBHOOK_SECRET": "mine", "CORS_ALLOWED_ORIGINS": ""}),
    )
    assert env["MERCHANT_WEBHOOK_SECRET"] == "mine" and env["CORS_ALLOWED_ORIGINS"] == ""


def test_standard_services_use_the_given_ports_and_options() -> None:
    ports = StackPorts.free()
    assert len(set(vars(ports).values())) == 11
    options = StackOptions(time_scale=0.1, cont_delay=0.3, retry_delays=(0.2, 0.5, 1.0))
    services = {s.name: s for s in standard_services(ports, options)}
    assert list(services) == [
        "firestore",
        "cloudtasks",
        "simulator",
        "storefront",
        "create_payment",
        "ipn_webhook",
        "fulfill",
        "reconcile",
        "run_frontend",
    ]
    page = services["storefront"].argv
    assert page[page.index("--port") + 1] == str(ports.storefront)
    assert page[page.index("--sdk-url") + 1] == f"http://127.0.0.1:{ports.simulator}/js/v2"
    assert page[page.index("--api-url") + 1] == f"http://127.0.0.1:{ports.create_payment}"
    tasks = services["cloudtasks"].argv
    assert tasks[tasks.index("--grpc-port") + 1] == str(ports.tasks_grpc)
    assert tasks[tasks.index("--time-scale") + 1] == "0.1"
    sim = services["simulator"].argv
    assert sim[sim.index("--port") + 1] == str(ports.simulator)
    assert sim[sim.index("--retry-delays") + 1] == "0.2,0.5,1"
    assert sim[sim.index("--cont-delay") + 1] == "0.3"
    cp = services["create_payment"]
    assert Path(cp.argv[0]).name == "functions-framework"
    assert "--target=create_payment" in cp.argv and "--source=entry_create_payment.py" in cp.argv
    assert f"--port={ports.create_payment}" in cp.argv
    assert cp.cwd == REPO_ROOT and cp.ready_url == f"http://127.0.0.1:{ports.create_payment}/orders/x"
    assert cp.env is not None and cp.env["FULFILL_URL"] == f"http://127.0.0.1:{ports.fulfill}"
    # fulfill and reconcile listen on internal ports; the front end owns the public ones
    assert f"--port={ports.fulfill_internal}" in services["fulfill"].argv
    assert f"--port={ports.reconcile_internal}" in services["reconcile"].argv
    front = services["run_frontend"]
    assert front.ports == (ports.fulfill, ports.reconcile) and front.ready_status == 401
    routes = [front.argv[i + 1] for i, a in enumerate(front.argv) if a == "--route"]
    assert routes == [
        f"fulfill,{ports.fulfill},http://127.0.0.1:{ports.fulfill_internal},"
        f"http://127.0.0.1:{ports.fulfill},tasks-invoker@demo-mp-local.iam.gserviceaccount.com",
        f"reconcile,{ports.reconcile},http://127.0.0.1:{ports.reconcile_internal},"
        f"http://127.0.0.1:{ports.reconcile},scheduler@demo-mp-local.iam.gserviceaccount.com",
    ]


# -- Firestore emulator and seed ---------------------------------------------------------


def test_seed_is_idempotent_and_wipe_empties_the_project(
    firestore_emulator: FirestoreEmulator, firestore_project: str
) -> None:
    assert seed(firestore_project) == list(PRODUCTS)
    seed(firestore_project)
    client = firestore_emulator.client(firestore_project)
    docs = {d.id: d.to_dict() for d in client.collection("products").stream()}
    assert docs == PRODUCTS
    assert docs["demo-product"] == {
        "title": "Demo product",
        "unit_price": "100.00",
        "currency": "BRL",
        "active": True,
        "category_id": "others",
    }
    assert docs["demo-inactive"]["active"] is False
    firestore_emulator.wipe(firestore_project)
    assert list(client.collection("products").stream()) == []


# -- make dev / make smoke (local.dev), on free ports -------------------------------------


@contextlib.contextmanager
def _dev(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m local.dev`` on free ports; SIGTERMed (then killed) if a test fails midway."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.dev", "--free-ports", "--run-dir", str(tmp_path),
         "--state-file", str(tmp_path / "stack.json"), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 90) -> str:
    assert proc.stdout is not None
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        out.append(line)
        if marker in line:
            return "".join(out)
    proc.kill()
    raise AssertionError(f"{marker!r} never printed:\n" + "".join(out))


def _stack_ports(output: str) -> dict[str, int]:
    """The ports in make dev's summary; services' own console lines ("fulfill | ...") skipped."""
    ports = {}
    for line in output.splitlines():
        if not line.startswith("  "):  # the summary is indented; console lines are not
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[0] in (
            "create_payment",
            "ipn_webhook",
            "fulfill",
            "reconcile",
            "Firestore",
        ):
            ports[parts[0]] = int(parts[1].rsplit(":", 1)[1])
            if parts[0] in ("fulfill", "reconcile"):  # "... front end -> http://host:port)"
                ports[f"{parts[0]}_internal"] = int(parts[-1].rstrip(")").rsplit(":", 1)[1])
        elif parts[:2] == ["MP", "simulator"]:
            ports["simulator"] = int(parts[2].rsplit(":", 1)[1])
        elif parts[:2] == ["Cloud", "Tasks"]:
            ports["tasks_grpc"] = int(parts[2].rsplit(":", 1)[1])
            ports["tasks_http"] = int(parts[4].rsplit(":", 1)[1])
    assert len(ports) == 10, output
    return ports


def _processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, argv) of every live process but this one."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
            state = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            yield int(entry), argv


def processes_using_ports(ports: dict[str, int]) -> list[str]:
    """Live processes whose command line names one of the ports (the stack's services)."""
    wanted = {str(p) for p in ports.values()}
    return [" ".join(argv) for _, argv in _processes() if {t.rsplit("=", 1)[-1] for t in argv} & wanted]


def _assert_stack_gone(ports: dict[str, int]) -> None:
    wait_until(lambda: not processes_using_ports(ports), timeout=5)
    for port in ports.values():
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_make_smoke_pays_an_order_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with _dev(tmp_path, "--smoke", "--time-scale", "0.1", "--cont-delay", "0.3") as proc:
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "smoke: OK, order paid" in out
    _assert_stack_gone(_stack_ports(out))
    assert {p.name for p in tmp_path.glob("*.log")} == {
        f"{name}.log"
        for name in (
            "firestore",
            "cloudtasks",
            "simulator",
            "storefront",
            "create_payment",
            "ipn_webhook",
            "fulfill",
            "reconcile",
            "merchant_events",
            "run_frontend",
        )
    }


def test_make_dev_restarts_a_killed_function_and_stops_when_an_emulator_dies(
        tmp_path: Path) -> None:
    with _dev(tmp_path) as proc:
        out = _read_until(proc, "Ctrl-C stops everything")
        ports = _stack_ports(out)
        state = json.loads((tmp_path / "stack.json").read_text())
        assert state["ports"]["fulfill"] == ports["fulfill"]
        fulfill = [
            pid
            for pid, argv in _processes()
            if f"--port={ports['fulfill_internal']}" in argv and "--target=fulfill" in argv
        ]
        assert fulfill, "the fulfill function's processes were not found"
        (master,) = [pid for pid in fulfill if os.getpgid(pid) == pid]  # the group leader
        assert state["pids"]["fulfill"] == master
        os.kill(master, signal.SIGKILL)  # gunicorn's master; its worker is left behind
        out += _read_until(proc, "local stack: fulfill restarted")
        assert "fulfill exited with signal SIGKILL; restarting it in" in out
        # serving again, on the same port, under the pid the state file now names
        wait_until(lambda: json.loads((tmp_path / "stack.json").read_text())["pids"]["fulfill"]
                  != master, timeout=10)
        new_master = json.loads((tmp_path / "stack.json").read_text())["pids"]["fulfill"]
        assert os.getpgid(new_master) == new_master
        with socket.create_connection(("127.0.0.1", ports["fulfill"]), timeout=5):
            pass
        # An emulator has state that a restart would lose: its death stops everything.
        os.kill(state["pids"]["cloudtasks"], signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1, rest
    assert "service 'cloudtasks' exited unexpectedly with signal SIGKILL" in rest
    assert "the whole stack stops" in rest
    _assert_stack_gone(ports)
    assert not (tmp_path / "stack.json").exists()


def test_make_dev_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    stack_file = tmp_path / "stack.json"
    with _dev(tmp_path) as proc:
        out = _read_until(proc, "Ctrl-C stops everything")
        ports = _stack_ports(out)
        assert "checkout page    http://127.0.0.1:" in out and "merchant events  http://" in out
        # the running stack's wiring, for mpctl --local (and people)
        written = json.loads(stack_file.read_text())
        assert written["pid"] == proc.pid
        assert written["ports"]["create_payment"] == ports["create_payment"]
        assert written["services"]["fulfill"]["pid"] > 0
        assert set(written["services"]) >= {"storefront", "merchant_events", "create_payment"}
        mpctl = Path(sys.executable).parent / "mpctl"
        env = {k: v for k, v in os.environ.items() if not k.endswith("_PORT")}
        done = subprocess.run([str(mpctl), "--local", "order", "show", "ord_nonexistent"],
                              env={**env, "LOCAL_STACK_FILE": str(stack_file)},
                              capture_output=True, text=True, timeout=60, check=False)
        # it reached this stack's Firestore (not the default ports): the order is unknown there
        assert done.returncode == 1 and "order_not_found" in done.stderr, done.stderr
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, rest
    assert "local stack stopped" in rest
    assert not stack_file.exists()
    _assert_stack_gone(ports)


CONSOLE_STRESS = textwrap.dedent(
    """
    import sys, threading
    from local.console import console_write, say
    console = sys.stdout.buffer
    def chatter():
        for _ in range(2000):
            console_write(console, b"svc | request: GET / 200")
    threads = [threading.Thread(target=chatter) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(2000):
        say(f"SUPERVISOR {i}")
    for t in threads:
        t.join()
    """
)


def test_supervisor_lines_and_service_lines_never_interleave() -> None:
    # CI runs with PYTHONUNBUFFERED; print() would then emit text and newline as two writes
    result = subprocess.run(
        [sys.executable, "-c", CONSOLE_STRESS],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 2000 + 3 * 2000
    torn = [ln for ln in lines if ln != "svc | request: GET / 200" and not ln.startswith("SUPERVISOR ")]
    assert not torn, torn[:5]
    assert [ln for ln in lines if ln.startswith("SUPERVISOR ")] == [f"SUPERVISOR {i}" for i in range(2000)]
