#include "transformers/tokenization/model_bulk.h"

#include <simdjson.h>

#include "transformers/core/error.h"

namespace transformers::tokenization {

std::pair<std::string_view, std::string_view> split_merge(std::string_view merge,
                                                          const std::string& where) {
  size_t space = merge.find(' ');
  TCPP_CHECK(space != std::string_view::npos && merge.find(' ', space + 1) == std::string_view::npos,
             FormatError, where, ": merge '", merge, "' is not two tokens separated by a space");
  return {merge.substr(0, space), merge.substr(space + 1)};
}

ModelBulk bulk_from_json(const Json& model, const std::string& where) {
  ModelBulk bulk;
  if (!model.is_object()) return bulk;
  if (auto it = model.find("vocab"); it != model.end() && !it->is_null()) {
    if (it->is_object()) {
      bulk.has_vocab_object = true;
      bulk.vocab_ids.reserve(it->size());
      for (auto v = it->begin(); v != it->end(); ++v) {
        TCPP_CHECK(v.value().is_number_unsigned() && v.value().get<uint64_t>() <= UINT32_MAX,
                   ConfigError, where, ": vocab entry '", v.key(),
                   "' must have a non-negative integer id");
        bulk.vocab_ids.emplace_back(v.key(), v.value().get<uint32_t>());
      }
    } else if (it->is_array()) {
      bulk.has_vocab_list = true;
      bulk.vocab_scores.reserve(it->size());
      for (size_t i = 0; i < it->size(); ++i) {
        const Json& e = (*it)[i];
        TCPP_CHECK(e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_number(),
                   ConfigError, where, ": vocab[", i, "] must be [piece, score]");
        bulk.vocab_scores.emplace_back(e[0].get_ref<const std::string&>(), e[1].get<double>());
      }
    } else {
      throw ConfigError(where + ": 'vocab' must be an object or a list");
    }
  }
  if (auto it = model.find("merges"); it != model.end() && !it->is_null()) {
    TCPP_CHECK(it->is_array(), ConfigError, where, ": 'merges' must be an array");
    bulk.has_merges = true;
    bulk.merges.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& m = (*it)[i];
      std::string at = where + ": merges[" + std::to_string(i) + "]";
      if (m.is_string()) {
        bulk.merges.push_back(split_merge(m.get_ref<const std::string&>(), at));
      } else {
        TCPP_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                   FormatError, at, ": a merge must be \"a b\" or [\"a\", \"b\"]");
        bulk.merges.emplace_back(m[0].get_ref<const std::string&>(),
                                 m[1].get_ref<const std::string&>());
      }
    }
  }
  return bulk;
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// By-value views (a range-for over value_unsafe() of a temporary result would dangle).
simdjson::dom::object as_object(element e) { return e.get_object().value_unsafe(); }
simdjson::dom::array as_array(element e) { return e.get_array().value_unsafe(); }

void check(simdjson::error_code code, const std::string& where) {
  if (code) throw FormatError(detail::concat(where, ": invalid JSON (", simdjson::error_message(code), ")"));
}

// Converts a (small) simdjson element to nlohmann Json.
Json to_json(element e, const std::string& where) {
  switch (e.type()) {
    case element_type::OBJECT: {
      Json out = Json::object();
      for (auto field : as_object(e))
        out[std::string(field.key)] = to_json(field.value, where);
      return out;
    }
    case element_type::ARRAY: {
      Json out = Json::array();
      for (element item : as_array(e)) out.push_back(to_json(item, where));
      return out;
    }
    case element_type::STRING:
      return std::string(e.get_string().value_unsafe());
    case element_type::INT64: {
      // nlohmann stores non-negative integers as unsigned; keep that so type checks agree.
      int64_t v = e.get_int64().value_unsafe();
      if (v >= 0) return static_cast<uint64_t>(v);
      return v;
    }
    case element_type::UINT64:
      return e.get_uint64().value_unsafe();
    case element_type::DOUBLE:
      return e.get_double().value_unsafe();
    case element_type::BOOL:
      return e.get_bool().value_unsafe();
    case element_type::NULL_VALUE:
      return nullptr;
  }
  throw FormatError(where + ": unexpected JSON value");
}

void read_bulk(element model, ModelBulk& bulk, const std::string& where) {
  element vocab;
  if (!model["vocab"].get(vocab) && !vocab.is_null()) {
    if (vocab.is_object()) {
      bulk.has_vocab_object = true;
      for (auto field : as_object(vocab)) {
        uint64_t id;
        TCPP_CHECK(!field.value.get_uint64().get(id) && id <= UINT32_MAX, ConfigError, where,
                   ": vocab entry '", field.key, "' must have a non-negative integer id");
        bulk.vocab_ids.emplace_back(field.key, static_cast<uint32_t>(id));
      }
    } else if (vocab.is_array()) {
      bulk.has_vocab_list = true;
      size_t i = 0;
      for (element entry : as_array(vocab)) {
        simdjson::dom::array pair;
        std::string_view piece;
        double score;
        bool ok = !entry.get_array().get(pair) && pair.size() == 2 && !pair.at(0).get_string().get(piece);
        if (ok) {
          element s = pair.at(1).value_unsafe();
          ok = s.is_number() && !s.get_double().get(score);
          if (ok) score = s.get_double().value_unsafe();
        }
        TCPP_CHECK(ok, ConfigError, where, ": vocab[", i, "] must be [piece, score]");
        bulk.vocab_scores.emplace_back(piece, score);
        ++i;
      }
    } else {
      throw ConfigError(where + ": 'vocab' must be an object or a list");
    }
  }
  element merges;
  if (!model["merges"].get(merges) && !merges.is_null()) {
    TCPP_CHECK(merges.is_array(), ConfigError, where, ": 'merges' must be an array");
    bulk.has_merges = true;
    size_t i = 0;
    for (element m : as_array(merges)) {
      std::string_view s;
      if (!m.get_string().get(s)) {
        if (s.find(' ') == std::string_view::npos || s.find(' ', s.find(' ') + 1) != std::string_view::npos)
          split_merge(s, where + ": merges[" + std::to_string(i) + "]");  // throws
        size_t space = s.find(' ');
        bulk.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
      } else {
        simdjson::dom::array pair;
        std::string_view a, b;
        bool ok = !m.get_array().get(pair) && pair.size() == 2 && !pair.at(0).get_string().get(a) &&
                  !pair.at(1).get_string().get(b);
        TCPP_CHECK(ok, FormatError, where, ": merges[", i, "]: a merge must be \"a b\" or [\"a\", \"b\"]");
        bulk.merges.emplace_back(a, b);
      }
      ++i;
    }
  }
}

}  // namespace

ParsedTokenizerJson parse_tokenizer_json(std::string_view text, const std::string& where) {
  auto parser = std::make_shared<simdjson::dom::parser>();
  simdjson::padded_string padded(text);
  element root;
  check(parser->parse(padded).get(root), where);
  TCPP_CHECK(root.is_object(), FormatError, where, ": the top level must be a JSON object");
  ParsedTokenizerJson out;
  out.config = Json::object();
  for (auto field : as_object(root)) {
    if (field.key != "model") {
      out.config[std::string(field.key)] = to_json(field.value, where);
      continue;
    }
    TCPP_CHECK(field.value.is_object(), ConfigError, where, ": 'model' must be an object");
    Json model = Json::object();
    for (auto m : as_object(field.value))
      if (m.key != "vocab" && m.key != "merges") model[std::string(m.key)] = to_json(m.value, where);
    // Keep the shape of the bulk fields visible to the model factory (type inference).
    element v;
    if (!field.value["vocab"].get(v)) model["vocab"] = v.is_array() ? Json::array() : Json::object();
    if (!field.value["merges"].get(v)) model["merges"] = Json::array();
    out.config["model"] = std::move(model);
    read_bulk(field.value, out.bulk, where + ": model");
  }
  out.storage = parser;
  return out;
}

}  // namespace transformers::tokenization
