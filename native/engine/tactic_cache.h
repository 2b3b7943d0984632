// The on-disk cache of tuned kernel choices ("tactics"), one tab-separated line per layer:
//   <key> \t <layer index> \t <tactic name>
// where the key names smlm-rt's version, the GPU, the model hash and the batch shape, so that a cache copied to
// another GPU or kept across an upgrade is simply not matched.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace smlmrt {

class TacticCache {
 public:
  // dir empty: memory only.
  explicit TacticCache(std::string dir);
  // Tactic names per layer for this key, or empty when unknown.
  std::vector<std::string> find(const std::string& key) const;
  // Remembers and appends to the file (best effort: a read-only cache directory only costs re-tuning).
  void store(const std::string& key, const std::vector<std::string>& tacticPerLayer);

 private:
  std::string path_;
  std::map<std::string, std::vector<std::string>> entries_;
};

}  // namespace smlmrt
