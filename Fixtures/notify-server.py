#!/usr/bin/env python3
"""A webhook receiver on 127.0.0.1 for the notification tests: it records every request.

    python3 Fixtures/notify-server.py RECORD_FILE MODE [--lifetime SECONDS]

Binds port 0 on 127.0.0.1 and prints the port on its first line of standard output. Each
request is appended to RECORD_FILE as one JSON line: method, path, headers, body (text), and
the status it was answered with (null when it was never answered). MODE:

    ok         answer 200 to every request
    flaky      answer 500 to the first two requests, then 200
    silent     read the request and never answer (the connection stays open)
    notfound   answer 404 to every request

It stops by itself after --lifetime seconds (default 120), so a test that dies leaves
nothing running for long. Standard library only.
"""

import argparse
import http.server
import json
import socketserver
import sys
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("record")
    parser.add_argument("mode", choices=["ok", "flaky", "silent", "notfound"])
    parser.add_argument("--lifetime", type=float, default=120)
    args = parser.parse_args()
    lock = threading.Lock()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_):  # quiet: the record file is the log
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            with lock:
                count[0] += 1
                number = count[0]
            if args.mode == "ok":
                status = 200
            elif args.mode == "flaky":
                status = 500 if number <= 2 else 200
            elif args.mode == "notfound":
                status = 404
            else:
                status = None
            entry = {"number": number, "method": "POST", "path": self.path,
                     "headers": {k.lower(): v for k, v in self.headers.items()},
                     "body": body, "status": status, "time": time.time()}
            with lock, open(args.record, "a", encoding="utf-8") as record:
                record.write(json.dumps(entry) + "\n")
            if status is None:
                time.sleep(args.lifetime)  # never answer
                return
            answer = b"ok" if status == 200 else b"error"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    stopper = threading.Timer(args.lifetime, server.shutdown)
    stopper.daemon = True
    stopper.start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
