#include "tactic_cache.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace smlmrt {

TacticCache::TacticCache(std::string dir) {
  if (dir.empty()) return;
  ::mkdir(dir.c_str(), 0755);  // may already exist; failures show up as an unwritable file below, which is harmless
  path_ = dir + "/smlmrt-cuda-tactics.tsv";
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, layer, tactic;
    if (!std::getline(fields, key, '\t') || !std::getline(fields, layer, '\t') || !std::getline(fields, tactic)) continue;
    char* end = nullptr;
    const long index = std::strtol(layer.c_str(), &end, 10);
    if (end == layer.c_str() || index < 0 || index > 100000) continue;
    auto& list = entries_[key];
    if (static_cast<size_t>(index) >= list.size()) list.resize(index + 1);
    list[index] = tactic;
  }
}

std::vector<std::string> TacticCache::find(const std::string& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? std::vector<std::string>{} : it->second;
}

void TacticCache::store(const std::string& key, const std::vector<std::string>& tacticPerLayer) {
  entries_[key] = tacticPerLayer;
  if (path_.empty()) return;
  std::ostringstream lines;
  for (size_t i = 0; i < tacticPerLayer.size(); ++i) lines << key << '\t' << i << '\t' << tacticPerLayer[i] << '\n';
  std::ofstream out(path_, std::ios::app);
  out << lines.str();
}

}  // namespace smlmrt
