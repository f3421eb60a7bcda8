"""A child process that writes records with the real ``JsonlSink`` as fast as it can.

Used by the fault tests: they SIGKILL it at random points, or start it under a file-size
limit (``RLIMIT_FSIZE``, SIGXFSZ ignored, as ``ulimit -f`` does for a shell). It prints
one JSON summary line on stdout when it finishes on its own.

usage: python -m tests.edge.faults.log_writer LOG COUNT MAX_BYTES KEEP COMPRESS [RAISE_AT]
RAISE_AT: after that many records, raise the soft file-size limit back to the hard one
(space returns) and go on.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from edge.sinks.jsonl import JsonlSink


def main() -> None:
    path, count, max_bytes, keep, compress = sys.argv[1:6]
    raise_at = int(sys.argv[6]) if len(sys.argv) > 6 else -1
    sink = JsonlSink(
        Path(path),
        max_bytes=int(max_bytes),
        keep=int(keep),
        compress=compress == "1",
        fsync_interval=None,
    )
    dropped_before = 0
    print("ready", flush=True)
    for seq in range(int(count)):
        if seq == raise_at:
            dropped_before = sink.dropped
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        sink.write({"seq": seq, "pad": "x" * (seq % 97), "score": 0.5})
    sink.close()
    print(
        json.dumps(
            {
                "dropped": sink.dropped,
                "dropped_before": dropped_before,
                "repaired": sink.repaired_bytes,
                "state": sink.state,
            }
        )
    )


if __name__ == "__main__":
    main()
