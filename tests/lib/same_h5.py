"""Compares two HDF5 files: every dataset and attribute, except the
provenance of the run (time, command line, options). Prints what differs.

  /usr/bin/python3 tests/lib/same_h5.py A.h5 B.h5    # exit 0 when the same
"""
import sys

import h5py
import numpy as np

VOLATILE = {"lt_created_utc", "lt_command_line", "lt_options"}


def items(path):
    found = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            for key, value in obj.attrs.items():
                if key not in VOLATILE:
                    found["@".join([name, key])] = np.asarray(value)
            if isinstance(obj, h5py.Dataset):
                found[name] = obj[()]
        visit("/", f)
        f.visititems(visit)
    return found


a, b = items(sys.argv[1]), items(sys.argv[2])
differ = sorted(k for k in a.keys() | b.keys()
                if k not in a or k not in b or np.asarray(a[k]).dtype != np.asarray(b[k]).dtype
                or not np.array_equal(a[k], b[k]))
if differ:
    print("differ:", " ".join(differ[:8]) + (" ..." if len(differ) > 8 else ""))
sys.exit(1 if differ else 0)
