"""The gcloud Firestore emulator (native mode), started directly with java.

``gcloud emulators firestore start`` is slower and leaves child processes behind; the jar
started by java is one process, ready in about 1.2 s (``GET /`` answers ``Ok``).

    python -m local.firestore_emulator --port 8085      # run it in the foreground

Keeping the data across runs (the restore drill in docs/deploying.md), as ``make dev`` does
when these are set in its environment:

- ``FIRESTORE_IMPORT_DIR``: start from an export (the emulator's own ``--import-data``; the
  directory of an export, or its ``.overall_export_metadata`` file).
- ``FIRESTORE_EXPORT_DIR``: export the data when the emulator is stopped, to
  ``<dir>/firestore_export/`` (replacing an earlier export there only once the new one is
  complete). The jar's own ``--export-on-exit`` is not used: in emulator 1.19.9 it runs only
  when the emulator is shut down through its ``/shutdown`` endpoint, not on a signal, and then
  fails for the ``(default)`` database ("Database name ... has invalid trailing '/'"). So the
  emulator runs under this module (``--export-on-exit``), which, when stopped, asks the running
  emulator for the same export through its ``/emulator/v1/projects/<p>:export`` endpoint, then
  stops it. Only the stack's project is exported (``FIRESTORE_EXPORT_PROJECT``, default
  ``demo-mp-local``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import FrameType

from local.constants import HOST, PROJECT_ID, REPO_ROOT
from local.processes import Terminated, terminate_on_signals
from local.supervisor import ServiceSpec, Stack

MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
JAR_RELATIVE = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
DEFAULT_PORT = 8085
EXPORT_NAME = "firestore_export"
METADATA_SUFFIX = ".overall_export_metadata"


class FirestoreEmulatorNotFound(RuntimeError):
    pass


@functools.cache
def find_jar() -> Path:
    """The emulator jar: ``$FIRESTORE_EMULATOR_JAR``, else the gcloud SDK's."""
    override = os.environ.get("FIRESTORE_EMULATOR_JAR")
    if override:
        path = Path(override)
        if not path.is_file():
            raise FirestoreEmulatorNotFound(f"FIRESTORE_EMULATOR_JAR={override} does not exist")
        return path
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise FirestoreEmulatorNotFound(
            "gcloud is not on PATH; install the Google Cloud SDK with the Firestore emulator "
            "component, or set FIRESTORE_EMULATOR_JAR"
        )
    try:
        sdk_root = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError) as exc:
        raise FirestoreEmulatorNotFound(f"`gcloud info` failed: {exc}") from exc
    jar = Path(sdk_root) / JAR_RELATIVE
    if not jar.is_file():
        raise FirestoreEmulatorNotFound(
            f"{jar} not found: install it with `gcloud components install cloud-firestore-emulator`"
            " (or apt-get install google-cloud-cli-firestore-emulator)"
        )
    return jar


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise FirestoreEmulatorNotFound("java is not on PATH (the emulator needs Java 11+)")
    return java


def emulator_argv(port: int, host: str = HOST, import_data: Path | None = None) -> list[str]:
    extra = os.environ.get("FIRESTORE_EMULATOR_JAVA_OPTS", "").split()
    return [
        find_java(),
        "-Duser.language=en",
        *extra,
        "-cp",
        str(find_jar()),
        MAIN_CLASS,
        "start",
        f"--host={host}",
        f"--port={port}",
        "--database-mode=firestore-native",
        *([f"--import-data={import_data}"] if import_data is not None else []),
    ]


class ExportNotFound(FileNotFoundError):
    pass


def find_export(path: str | Path) -> Path:
    """The ``.overall_export_metadata`` file of the export at ``path`` (a file or a folder).

    A folder may hold the export itself or, like ``FIRESTORE_EXPORT_DIR``, the export in a
    sub-folder; ``firestore_export/`` is preferred, else the only export found.
    """
    p = Path(path).expanduser().resolve()
    if p.is_file() and p.name.endswith(METADATA_SUFFIX):
        return p
    if not p.is_dir():
        raise ExportNotFound(f"no Firestore export at {p}")
    preferred = p / EXPORT_NAME / f"{EXPORT_NAME}{METADATA_SUFFIX}"
    if preferred.is_file():
        return preferred
    found = sorted({*p.glob(f"*{METADATA_SUFFIX}"), *p.glob(f"*/*{METADATA_SUFFIX}")})
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ExportNotFound(f"{what} Firestore export(s) (*{METADATA_SUFFIX}) in {p}")
    return found[0]


def firestore_service(
    port: int = DEFAULT_PORT,
    *,
    host: str = HOST,
    env: Mapping[str, str] | None = None,
    name: str = "firestore",
    timeout: float = 60.0,
) -> ServiceSpec:
    """The emulator as a stack service; ready when ``GET /`` answers ``Ok``.

    ``FIRESTORE_IMPORT_DIR`` and ``FIRESTORE_EXPORT_DIR`` in ``env`` (default: ours) start it
    from an export and export its data when it is stopped (see the module's docstring).
    """
    settings = os.environ if env is None else env
    import_dir = settings.get("FIRESTORE_IMPORT_DIR", "").strip()
    export_dir = settings.get("FIRESTORE_EXPORT_DIR", "").strip()
    import_data = find_export(import_dir) if import_dir else None
    spec = ServiceSpec(
        name=name,
        argv=emulator_argv(port, host, import_data),
        env=env,
        cwd=REPO_ROOT,
        ready_url=f"http://{host}:{port}/",
        ready_status=200,
        ready_body="Ok",
        timeout=timeout,
        url=f"http://{host}:{port}",
        stop_wave=1,  # after the functions that use it
        ports=(port,),
    )
    if not export_dir:
        return spec
    project = settings.get("FIRESTORE_EXPORT_PROJECT", "").strip() or PROJECT_ID
    argv = [
        sys.executable, "-m", "local.firestore_emulator", "--host", host, "--port", str(port),
        "--export-on-exit", str(Path(export_dir).expanduser().resolve()), "--project", project,
    ]
    if import_data is not None:
        argv += ["--import-data", str(import_data)]
    # SIGTERM to this module only: it exports, then stops the emulator (same process group,
    # so the supervisor's SIGKILL after its grace period still reaches both).
    return replace(spec, argv=argv, stop_signal=signal.SIGTERM, stop_leader_only=True)


def start_emulator(port: int, run_dir: Path, *, host: str = HOST, console: bool = False) -> Stack:
    """Start only the emulator; stop it with ``.stop()`` (or use the result as a context)."""
    return Stack([firestore_service(port, host=host)], run_dir, console=console).start()


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wipe(project: str = PROJECT_ID, host: str | None = None, database: str = "(default)") -> None:
    """Delete every document of ``project`` in the emulator at ``host`` (``host:port``).

    ``host`` defaults to ``$FIRESTORE_EMULATOR_HOST``.
    """
    target = host or os.environ.get("FIRESTORE_EMULATOR_HOST")
    if not target:
        raise ValueError("no emulator host given and FIRESTORE_EMULATOR_HOST is not set")
    if not _is_loopback(target):
        raise ValueError(f"refusing to wipe a non-loopback Firestore at {target}")
    url = (
        f"http://{target}/emulator/v1/projects/{urllib.parse.quote(project, safe='')}"
        f"/databases/{urllib.parse.quote(database, safe='()')}/documents"
    )
    request = urllib.request.Request(url, method="DELETE")
    with _OPENER.open(request, timeout=60) as response:
        response.read()


def export(
    host: str, directory: str | Path, project: str = PROJECT_ID, database: str = "(default)"
) -> Path:
    """Export ``project``'s database from the emulator at ``host`` into ``directory``.

    The export lands in ``<directory>/firestore_export/`` (the format of a production managed
    export, read back with ``--import-data``). It is written to a temporary folder first and
    replaces an earlier export only once complete. Returns its metadata file.
    """
    if not _is_loopback(host):
        raise ValueError(f"refusing to export a non-loopback Firestore at {host}")
    target = Path(directory).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
    try:
        url = f"http://{host}/emulator/v1/projects/{urllib.parse.quote(project, safe='')}:export"
        body = {
            "database": f"projects/{project}/databases/{database}",
            "export_directory": str(staging),
            "export_name": EXPORT_NAME,
        }
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        with _OPENER.open(request, timeout=120) as response:
            response.read()
        final = target / EXPORT_NAME
        previous = target / f".{EXPORT_NAME}.previous-{os.getpid()}"
        if final.exists():
            final.rename(previous)
        (staging / EXPORT_NAME).rename(final)
        shutil.rmtree(previous, ignore_errors=True)
        return final / f"{EXPORT_NAME}{METADATA_SUFFIX}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_loopback(hostport: str) -> bool:
    host = hostport.rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def _pdeathsig() -> None:
    """In the emulator: die with this process (Linux), even if it is killed outright."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def run_exporting(host: str, port: int, export_dir: Path, project: str, import_data: Path | None) -> int:
    """Run the emulator as a child; when told to stop, export its data, then stop it."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    proc = subprocess.Popen(emulator_argv(port, host, import_data), preexec_fn=_pdeathsig)
    try:
        return proc.wait()
    except _Stop:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the export
        hostport = f"{host}:{port}"
        try:
            metadata = export(hostport, export_dir, project)
            print(f"firestore: exported {project} to {metadata}", flush=True)
        except (OSError, urllib.error.URLError, ValueError) as err:
            print(f"firestore: export to {export_dir} FAILED: {err}", flush=True)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=int(os.environ.get("FIRESTORE_PORT", "8085")))
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--export-on-exit", type=Path, default=None, metavar="DIR",
                        help="export the data to DIR/firestore_export when stopped")
    parser.add_argument("--import-data", type=Path, default=None, metavar="PATH",
                        help="start from the export at PATH (folder or metadata file)")
    parser.add_argument("--project", default=PROJECT_ID, help="project exported by --export-on-exit")
    args = parser.parse_args(argv)
    if args.export_on_exit is not None:
        import_data = find_export(args.import_data) if args.import_data else None
        return run_exporting(args.host, args.port, args.export_on_exit, args.project, import_data)
    run_dir = args.run_dir or REPO_ROOT / ".local-run" / f"firestore-{os.getpid()}"
    env = dict(os.environ)
    if args.import_data is not None:
        env["FIRESTORE_IMPORT_DIR"] = str(args.import_data)
    with terminate_on_signals():
        stack = Stack([firestore_service(args.port, host=args.host, env=env)], run_dir, console=True)
        try:
            stack.start()
            print(f"export FIRESTORE_EMULATOR_HOST={args.host}:{args.port}", flush=True)
            stack.wait()
        except (KeyboardInterrupt, Terminated):
            pass
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
