// Small file helpers for the on-disk caches (timing cache, serialized engines) and the names they are stored under.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace smlmrt::trt {

// The whole file, or nothing when it does not exist or cannot be read (a cache miss, never an error).
std::optional<std::vector<char>> readWholeFile(const std::string& path);

// Writes to a temporary file next to `path` and renames it over `path`, so that a concurrent reader (another
// process building the same engine) never sees a half-written cache. Creates the directory. Returns false on any
// failure: a cache that cannot be written only costs time on the next run.
bool writeFileAtomically(const std::string& path, const void* data, size_t bytes);

// 64-bit FNV-1a as 16 lowercase hex digits: a cheap content fingerprint for cache names (not security).
std::string fingerprint64(const void* data, size_t bytes);

// Keeps [0-9A-Za-z._-] and replaces anything else with '_', truncated to maxLength: safe as part of a file name.
std::string fileNameSafe(const std::string& text, size_t maxLength);

}  // namespace smlmrt::trt
