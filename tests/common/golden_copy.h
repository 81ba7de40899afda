// Hostile copies of the golden models: a golden folder copied to a scratch folder with its
// config.json (or generation_config.json) edited by the test.
#pragma once

#include <fstream>
#include <functional>

#include "common/test_util.h"
#include "transformers/io/json.h"

namespace transformers::testing {

inline std::filesystem::path golden_dir(const std::string& arch) { return shared_path("golden/" + arch); }

// Copies golden/<arch> to a fresh scratch folder `name`, editing `file` (a JSON file of the
// folder; an absent one starts as {}) with `edit`.
inline std::filesystem::path edited_golden_copy(const std::string& name, const std::string& arch,
                                                const std::function<void(Json&)>& edit,
                                                const std::string& file = "config.json") {
  auto dir = scratch_dir(name);
  for (const auto& f : std::filesystem::directory_iterator(golden_dir(arch)))
    std::filesystem::copy_file(f.path(), dir / f.path().filename());
  Json json = std::filesystem::exists(dir / file) ? read_json_file(dir / file) : Json::object();
  edit(json);
  std::ofstream(dir / file) << json.dump(2);
  return dir;
}

}  // namespace transformers::testing
