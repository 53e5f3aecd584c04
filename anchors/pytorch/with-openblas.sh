#!/bin/sh
# Run a command with Debian's OpenBLAS (OpenMP build) in place of the reference BLAS
# that Debian's libtorch1.13 reaches through the libblas.so.3 alternative, without
# installing anything: the .deb is fetched with `apt-get download` and unpacked to
# $OPENBLAS_DIR (default ~/.cache/openblas-openmp).
# Usage: anchors/pytorch/with-openblas.sh /usr/bin/python3 anchors/pytorch/infovae_anchor.py --only quick
set -e
dir=${OPENBLAS_DIR:-$HOME/.cache/openblas-openmp}
lib=$dir/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -e "$lib/libblas.so.3" ]; then
    mkdir -p "$dir"
    (cd "$dir" && apt-get download libopenblas0-openmp >&2 && dpkg-deb -x libopenblas0-openmp_*.deb .)
fi
LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec "$@"
