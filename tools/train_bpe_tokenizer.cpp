// train_bpe_tokenizer: trains a byte-level BPE tokenizer (GPT-2's scheme) on JSONL text and writes
// it as a tokenizer.json that our Tokenizer and Hugging Face's tokenizers both load.
//   train_bpe_tokenizer --data train.jsonl --vocab-size 4096 --out DIR
//                       [--special "<|endoftext|>" --special "<|im_start|>" ...] [--min-frequency
//                       2]
// Rows are {"text": "..."}; occurrences of the special tokens are cut out of the text before the
// words are counted. Words come from our own ByteLevel pre-tokenizer (GPT-2's regex), so the
// statistics are over exactly the pieces the tokenizer will later see. Vocabulary: the special
// tokens first (ids 0..), then the 256 byte symbols, then one token per merge, in merge order.
// Merges are learned the usual way: repeatedly the most frequent adjacent pair (ties: the smaller
// pair of ids, so that the result is deterministic) until the vocabulary is full or no pair occurs
// min-frequency times.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "transformers/core/error.h"
#include "transformers/io/json.h"
#include "transformers/tokenization/byte_level.h"
#include "transformers/tokenization/pre_tokenizers.h"

using namespace transformers;
using namespace transformers::tokenization;

namespace {

struct Word {
  std::vector<uint32_t> symbols;
  int64_t count = 0;
};

uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t(a) << 32) | b; }

// Removes every occurrence of the special tokens, keeping the text around them as separate pieces.
std::vector<std::string> cut_specials(const std::string& text,
                                      const std::vector<std::string>& specials) {
  std::vector<std::string> pieces{text};
  for (const auto& special : specials) {
    std::vector<std::string> next;
    for (const auto& piece : pieces) {
      size_t start = 0;
      for (size_t at; (at = piece.find(special, start)) != std::string::npos;
           start = at + special.size())
        next.push_back(piece.substr(start, at - start));
      next.push_back(piece.substr(start));
    }
    pieces = std::move(next);
  }
  return pieces;
}

// The byte values of a byte-level string (each char of the alphabet is 1 or 2 UTF-8 bytes).
std::vector<unsigned char> byte_level_bytes(const std::string& s) {
  std::vector<unsigned char> bytes;
  for (size_t i = 0; i < s.size();) {
    auto c0 = static_cast<unsigned char>(s[i]);
    char32_t cp = c0;
    size_t len = 1;
    if (c0 >= 0xC0 && i + 1 < s.size()) {
      cp = (char32_t(c0 & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      len = 2;
    }
    auto b = char_to_byte(cp);
    if (!b)
      throw Error(
          "train_bpe_tokenizer: pre-tokenizer produced a char outside the byte-level alphabet");
    bytes.push_back(*b);
    i += len;
  }
  return bytes;
}

// Counts the pre-tokenized words of every row's text.
std::unordered_map<std::string, int64_t> count_words(const std::filesystem::path& data,
                                                     const std::vector<std::string>& specials) {
  auto pre_tokenizer = make_pre_tokenizer(Json{{"type", "ByteLevel"},
                                               {"add_prefix_space", false},
                                               {"trim_offsets", true},
                                               {"use_regex", true}},
                                          "train_bpe_tokenizer");
  std::ifstream in(data);
  if (!in) throw IoError("train_bpe_tokenizer: cannot read " + data.string());
  std::unordered_map<std::string, int64_t> counts;
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const std::exception& e) {
      throw FormatError(data.string() + ":" + std::to_string(line_no) + ": not JSON: " + e.what());
    }
    if (!row.is_object() || !row.contains("text") || !row["text"].is_string())
      throw FormatError(data.string() + ":" + std::to_string(line_no) +
                        ": expected {\"text\": string}");
    for (const auto& piece : cut_specials(row["text"].get<std::string>(), specials)) {
      if (piece.empty()) continue;
      PreTokenizedString pts(piece);
      pre_tokenizer->pre_tokenize(pts);
      for (const auto& split : pts.splits()) ++counts[split.normalized.get()];
    }
  }
  return counts;
}

struct Trained {
  std::vector<std::string> vocab;  // id -> byte-level token string
  std::vector<std::pair<uint32_t, uint32_t>> merges;
};

Trained train(const std::unordered_map<std::string, int64_t>& word_counts, size_t first_id,
              size_t vocab_size, int64_t min_frequency) {
  Trained t;
  for (int b = 0; b < 256; ++b) t.vocab.emplace_back(byte_to_utf8(static_cast<unsigned char>(b)));
  std::unordered_map<std::string, uint32_t> id_of;
  for (uint32_t i = 0; i < t.vocab.size(); ++i) id_of[t.vocab[i]] = i;

  // Sorted words so that the whole run is independent of hash-map order.
  std::vector<std::pair<std::string, int64_t>> sorted(word_counts.begin(), word_counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  for (const auto& [text, count] : sorted) {
    Word w{.count = count};
    for (unsigned char b : byte_level_bytes(text)) w.symbols.push_back(b);
    words.push_back(std::move(w));
  }

  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::unordered_set<uint32_t>> words_with;
  auto add_pairs = [&](uint32_t wi, int64_t sign) {
    const auto& s = words[wi].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += sign * words[wi].count;
      if (sign > 0) words_with[k].insert(wi);
    }
  };
  for (uint32_t wi = 0; wi < words.size(); ++wi) add_pairs(wi, +1);

  // Max-heap on (count, smaller key first); entries go stale when counts change and are skipped.
  auto less = [](const std::pair<int64_t, uint64_t>& x, const std::pair<int64_t, uint64_t>& y) {
    return x.first != y.first ? x.first < y.first : x.second > y.second;
  };
  std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                      decltype(less)>
      heap(less);
  for (const auto& [k, c] : pair_count) heap.push({c, k});

  while (first_id + t.vocab.size() < vocab_size && !heap.empty()) {
    auto [count, key] = heap.top();
    heap.pop();
    auto it = pair_count.find(key);
    if (it == pair_count.end() || it->second != count) continue;  // stale
    if (count < min_frequency) break;
    auto a = uint32_t(key >> 32), b = uint32_t(key & 0xffffffffu);
    std::string merged = t.vocab[a] + t.vocab[b];
    uint32_t new_id;
    if (auto found = id_of.find(merged); found != id_of.end()) {
      new_id = found->second;
    } else {
      new_id = static_cast<uint32_t>(t.vocab.size());
      t.vocab.push_back(merged);
      id_of[merged] = new_id;
    }
    t.merges.push_back({a, b});

    std::unordered_set<uint64_t> touched;
    std::vector<uint32_t> affected(words_with[key].begin(), words_with[key].end());
    std::sort(affected.begin(), affected.end());
    for (uint32_t wi : affected) {
      auto& s = words[wi].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) touched.insert(pair_key(s[i], s[i + 1]));
      add_pairs(wi, -1);
      std::vector<uint32_t> next;
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          next.push_back(new_id);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s = std::move(next);
      add_pairs(wi, +1);
      for (size_t i = 0; i + 1 < s.size(); ++i) touched.insert(pair_key(s[i], s[i + 1]));
    }
    pair_count.erase(key);
    words_with.erase(key);
    for (uint64_t k : touched) {
      auto pc = pair_count.find(k);
      if (pc == pair_count.end()) continue;
      if (pc->second <= 0) {
        pair_count.erase(pc);
        words_with.erase(k);
      } else {
        heap.push({pc->second, k});
      }
    }
  }
  return t;
}

Json tokenizer_json(const Trained& t, const std::vector<std::string>& specials) {
  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t i = 0; i < specials.size(); ++i) {
    vocab[specials[i]] = i;
    added.push_back({{"id", i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  for (size_t i = 0; i < t.vocab.size(); ++i) vocab[t.vocab[i]] = specials.size() + i;
  Json merges = Json::array();
  for (auto [a, b] : t.merges) merges.push_back(Json::array({t.vocab[a], t.vocab[b]}));
  Json byte_level = {{"type", "ByteLevel"},
                     {"add_prefix_space", false},
                     {"trim_offsets", true},
                     {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a byte-level BPE tokenizer on JSONL text"};
  std::filesystem::path data, out;
  size_t vocab_size = 4096;
  int64_t min_frequency = 2;
  std::vector<std::string> specials;
  app.add_option("--data", data, "JSONL file of {\"text\": ...} rows")->required();
  app.add_option("--out", out, "folder to write tokenizer.json into")->required();
  app.add_option("--vocab-size", vocab_size, "total vocabulary, special tokens included");
  app.add_option("--min-frequency", min_frequency, "stop when the best pair occurs fewer times");
  app.add_option("--special", specials, "special tokens (ids 0.. in this order)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (vocab_size < specials.size() + 256)
      throw Error("train_bpe_tokenizer: --vocab-size must hold the specials and 256 byte symbols");
    auto counts = count_words(data, specials);
    Trained t = train(counts, specials.size(), vocab_size, min_frequency);
    std::filesystem::create_directories(out);
    std::ofstream file(out / "tokenizer.json");
    file << tokenizer_json(t, specials).dump(2, ' ', false) << "\n";
    if (!file)
      throw IoError("train_bpe_tokenizer: cannot write " + (out / "tokenizer.json").string());
    std::printf("%zu distinct words, %zu merges, vocabulary %zu\n", counts.size(), t.merges.size(),
                specials.size() + t.vocab.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bpe_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
