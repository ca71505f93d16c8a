#!/usr/bin/env bash
# Installs the Debian packages Sightline builds against, when they are missing:
# HDF5 (libhdf5-dev), libjpeg-turbo (libjpeg-dev), libpng (libpng-dev), OpenBLAS
# (libopenblas-dev), oneDNN (libdnnl-dev, the default GEMM), Open MPI (libopenmpi-dev for the
# header, openmpi-bin for mpirun: data-parallel fine-tuning) and pkg-config.
set -euo pipefail

packages=(pkg-config libhdf5-dev libjpeg-dev libpng-dev libopenblas-dev libdnnl-dev libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: Swift 6 is required (swift not on PATH)" >&2; exit 1; }
