"""THE run folder: its layout (RunFolder), atomic writes, creating and recording a run (writer), and
reading runs back (reader). Everything that reads or writes a file of a run folder comes through here.
No TensorFlow and no Keras: compare over a thousand runs must start in a fraction of a second."""
from expkit.runstore.atomic import clean_temp_files, replacing, save_atomic, write_atomic, write_json
from expkit.runstore.folder import FORMAT_VERSION, BadRun, RunFolder
from expkit.runstore.identity import data_fingerprint, identify
from expkit.runstore.liveness import process_gone, this_process
from expkit.runstore.reader import (SEED_KEY, Run, config_hash, flatten, load_runs, read_metrics, read_run,
                                   require_runs)
from expkit.runstore.writer import RunRecord, create_run_dir, git_commit, make_runs_dir, now

__all__ = ["FORMAT_VERSION", "SEED_KEY", "BadRun", "Run", "RunFolder", "RunRecord", "clean_temp_files", "config_hash",
           "create_run_dir", "data_fingerprint", "flatten", "identify", "git_commit", "load_runs", "make_runs_dir", "now", "process_gone",
           "read_metrics", "read_run", "replacing", "require_runs", "save_atomic", "this_process", "write_atomic", "write_json"]
