// `transformers train`'s command line, parsed on its own.
#include <gtest/gtest.h>

#include "error_text.h"
#include "transformers/training/train_command_line.h"

using namespace transformers;
using namespace transformers::training;
using transformers::training::testing::error_of;

TEST(TrainCommandLine, FlagsArgsFileAndOverrides) {
  const std::string args_json = std::string(TCPP_SHARED_DIR) + "/train_golden/args.json";
  const auto command = parse_train_command_line({"--model", "m", "--learning_rate", "0.01", "--data", "d.jsonl",
                                                 "--args", args_json, "--lora", "r=4,alpha=8,target=q_proj,v_proj",
                                                 "--max-length", "64", "--pack", "max_steps=5"});
  EXPECT_EQ(command.model, "m");
  EXPECT_EQ(command.data, "d.jsonl");
  EXPECT_FALSE(command.eval_data);
  EXPECT_EQ(command.args.learning_rate, 0.01);  // the flag overrides the file
  EXPECT_EQ(command.args.max_steps, 5);
  EXPECT_EQ(command.args.gradient_accumulation_steps, 3);  // from args.json
  ASSERT_TRUE(command.lora);
  EXPECT_EQ(command.lora->r, 4);
  EXPECT_EQ(command.lora->alpha, 8);
  EXPECT_EQ(command.lora->target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_EQ(*command.max_length, 64);
  EXPECT_TRUE(command.pack);
}

TEST(TrainCommandLine, ErrorsNameTheFlag) {
  EXPECT_NE(error_of([] { parse_train_command_line({"--data", "d"}); }).find("--model"), std::string::npos);
  EXPECT_NE(error_of([] { parse_train_command_line({"--model", "m", "--data", "d", "--warmup_ratio", "0.1"}); })
                .find("warmup_steps"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_train_command_line({"--model", "m", "--data", "d", "--pack"}); }).find("--max-length"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_lora_spec("r=0"); }).find("--lora r"), std::string::npos);
  EXPECT_NE(error_of([] { parse_lora_spec("rank=4"); }).find("'rank'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_train_command_line({"--model"}); }).find("--model: missing value"), std::string::npos);
}
