#!/usr/bin/env bash
# Copy standard input to standard output without TensorFlow's and CUDA's C++ log lines (oneDNN
# notices, "Could not find cuda drivers", failed cuInit calls, absl's pre-initialisation warning):
# TF_CPP_MIN_LOG_LEVEL cannot silence those that are written before TensorFlow reads it.
# VERBOSE=1 passes everything. Used by the sweep scripts on their logs.
if [ -n "${VERBOSE:-}" ] && [ "${VERBOSE}" != 0 ]; then exec cat; fi
exec grep --line-buffered -v -E '^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE][0-9]{4} [0-9:.]+ +[0-9]+ [a-z_]+\.cc:[0-9]+\]|To enable the following instructions: )'
