/* Shared by the fuzz targets (libFuzzer): each file defines the entry point. */
#ifndef RAGD_FUZZ_H
#define RAGD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
