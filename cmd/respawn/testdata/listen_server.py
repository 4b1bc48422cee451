"""A socket-activated HTTP server: it takes its listener from fd 3, as
systemd's sd_listen_fds passes it, and answers each request with its pid."""
import http.server
import os
import socket
import sys

if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    sys.exit("not socket-activated")
sock = socket.socket(fileno=3)
# The socket is shared with every incarnation: a program that set it
# non-blocking set it for all. Python's blocking accept needs it blocking.
sock.setblocking(True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
server.socket = sock
print(f"ready pid {os.getpid()}", flush=True)
server.serve_forever()
