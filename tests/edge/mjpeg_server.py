"""A tiny MJPEG-over-HTTP camera for tests: ``python mjpeg_server.py PORT FPS``.

Serves ``multipart/x-mixed-replace`` JPEGs of the synthetic camera's frames at
``/stream.mjpg`` on 127.0.0.1 (what many IP cameras and ``mjpg-streamer`` serve), and
prints the bound port on its first line (PORT 0 = any free port). A test stops it
(kill) and starts it again on the same port to make a real stream drop.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2

from edge.sources.synthetic import SyntheticCamera

BOUNDARY = "edgeframe"


def main() -> None:
    port, fps = int(sys.argv[1]), float(sys.argv[2])
    camera = SyntheticCamera(fps=None)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/stream.mjpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            index = 0
            try:
                while True:
                    ok, jpeg = cv2.imencode(".jpg", camera.render(index))
                    assert ok
                    data = jpeg.tobytes()
                    self.wfile.write(
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(data)}\r\n\r\n".encode()
                    )
                    self.wfile.write(data + b"\r\n")
                    self.wfile.flush()
                    index += 1
                    time.sleep(1 / fps)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, *args: object) -> None:
            del args

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
