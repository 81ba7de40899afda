// A program that uses the installed library: load a model folder (config.json, *.safetensors,
// tokenizer.json), tokenize a prompt, generate greedily and print the ids and the text.
//   generate_example MODEL_DIR "prompt" [max_new_tokens]
#include <cstdlib>
#include <iostream>
#include <string>

#include "transformers/transformers.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR PROMPT [MAX_NEW_TOKENS]\n";
    return 2;
  }
  try {
    using namespace transformers;
    const std::string model_dir = argv[1], prompt = argv[2];
    auto tokenizer = AutoTokenizer::from_pretrained(model_dir);
    auto model = AutoModelForCausalLM::from_pretrained(model_dir);

    std::vector<int64_t> ids = tokenizer.encode(prompt);
    Tensor input = Tensor::from_values(ids, {1, static_cast<int64_t>(ids.size())});
    GenerationConfig config = model->generation_config;
    config.do_sample = false;
    config.max_new_tokens = argc == 4 ? std::stoll(argv[3]) : 8;
    GenerateOutput out = generate(*model, input, config);

    const std::vector<int64_t>& row = out.sequences[0];
    std::cout << "ids:";
    for (int64_t id : row) std::cout << ' ' << id;
    std::cout << "\ntext: " << prompt
              << tokenizer.decode(std::span<const int64_t>(row).subspan(ids.size()),
                                  {.skip_special_tokens = true})
              << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
