"""Two processes rewriting one file through runstore.write_json while a third reads it: no write is
lost to a shared temporary name, and the reader never sees half a file (each writer has its own
temporary file, renamed over the target)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys
from pathlib import Path
from expkit.runstore import write_json
path, who = Path(sys.argv[1]), sys.argv[2]
for i in range(400):
    write_json(path, {"writer": who, "i": i, "pad": "x" * 4000})
"""


def test_two_writers_and_a_reader_on_one_file(tmp_path):
    target = tmp_path / "run.json"
    target.write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(target), who], env=env,
                                stderr=subprocess.PIPE, text=True) for who in "ab"]
    reads = bad = 0
    while any(w.poll() is None for w in writers):
        try:
            json.loads(target.read_text())
        except ValueError:
            bad += 1
        reads += 1
    errors = [w.communicate()[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    assert bad == 0 and reads > 10, (bad, reads)
    assert json.loads(target.read_text())["i"] == 399
    assert not [p for p in tmp_path.iterdir() if p.name != "run.json"]  # no temporary file left
