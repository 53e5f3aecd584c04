#!/usr/bin/env python3
"""Does the libcuda.so.1 the loader finds export every driver function ILGPU imports?

Usage: libcuda_symbols.py FILE
FILE holds ILGPU's assembly: ILGPU.dll, or the single-file `infovae` binary (published uncompressed, so the
assembly's metadata is in it as it is). ILGPU's CUDA API names each imported function NAME with a wrapper NAME_Import;
those names are read from the metadata's string heap. A missing symbol otherwise shows up only as an
EntryPointNotFoundException when the accelerator is created. Prints which file was loaded (a toolkit's
stubs/libcuda.so must never be the one), then the symbols it lacks. Exit 0: all present; 1: some missing;
2: libcuda.so.1 not found or no names in FILE.
"""
import ctypes
import re
import sys


def imported_names(path):
    with open(path, "rb") as f:
        blob = f.read()
    return sorted({m.decode() for m in re.findall(rb"(?<=\x00)(cu[A-Z][A-Za-z0-9_]*)_Import(?=\x00)", blob)})


def loaded_path(name):
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if name in line.rsplit("/", 1)[-1]})


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2])
        return 2
    names = imported_names(sys.argv[1])
    print(f"{len(names)} driver functions imported by ILGPU (read from {sys.argv[1]})")
    if not names:
        return 2
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        print(f"libcuda.so.1: not loadable ({e})")
        return 2
    print("loaded:", ", ".join(loaded_path("libcuda")) or "(path not in /proc/self/maps)")
    version = ctypes.c_int(0)
    if hasattr(lib, "cuDriverGetVersion") and lib.cuDriverGetVersion(ctypes.byref(version)) == 0:
        print(f"cuDriverGetVersion: {version.value // 1000}.{version.value % 1000 // 10}")
    missing = [n for n in names if not hasattr(lib, n)]
    print(f"missing: {', '.join(missing)}" if missing else f"all {len(names)} present")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
