// Helpers shared by the subcommands.
#pragma once

#include <string>

#include "transformers/core/tensor.h"

namespace transformers::cli {

// "1,17,42;1,5,5" -> int64 [2, 3]. Rows are separated by ';', ids by ',' (spaces allowed).
// Throws ValueError naming `flag` for empty rows, non-integers or rows of unequal length.
Tensor parse_id_matrix(const std::string& text, const std::string& flag);

}  // namespace transformers::cli
