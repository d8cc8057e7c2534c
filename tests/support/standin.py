"""A stand-in service for testing the stack launcher (stdlib only, loopback only).

python tests/support/standin.py --port N [--status 200] [--body Ok] [--delay 0.3]
    [--fail-with 3] [--never-ready] [--exit-after 1.0] [--ignore-term] [--spawn-child]
    [--child-ignores-term] [--print TEXT]
"""

from __future__ import annotations

import argparse
import http.server
import os
import signal
import subprocess
import sys
import threading
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default="Ok")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before listening")
    p.add_argument("--fail-with", type=int, default=None, help="exit at once with this code")
    p.add_argument("--never-ready", action="store_true", help="run, but never listen")
    p.add_argument("--exit-after", type=float, default=None, help="exit(7) after this long")
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--spawn-child", action="store_true", help="a sleeping child, same group")
    p.add_argument("--child-ignores-term", action="store_true")
    p.add_argument("--print", dest="text", default=None)
    args = p.parse_args()

    if args.text:
        print(args.text, flush=True)
    print(f"standin pid={os.getpid()} pgid={os.getpgid(0)}", flush=True)
    if args.fail_with is not None:
        print(f"boom: giving up with exit code {args.fail_with}", file=sys.stderr, flush=True)
        return int(args.fail_with)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.spawn_child:
        code = "import time\n"
        if args.child_ignores_term:
            code += "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        code += "print('child up', flush=True)\ntime.sleep(3600)\n"
        child = subprocess.Popen([sys.executable, "-c", code])
        print(f"child pid={child.pid}", flush=True)
    if args.exit_after is not None:

        def die() -> None:
            time.sleep(args.exit_after)
            print("standin: exiting on purpose", flush=True)
            os._exit(7)

        threading.Thread(target=die, daemon=True).start()
    if args.never_ready:
        while True:
            time.sleep(3600)
    time.sleep(args.delay)

    status, body = args.status, args.body.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *a: object) -> None:
            print("request:", format % a, flush=True)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
