// Python ints beyond 64 bits (10 ** 100, "12345678901234567890"|int), on GMP. Values hold an
// int64 whenever the number fits; a BigInt only beyond that, so the common path never sees GMP.
#pragma once

#include <gmp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "transformers/chat/ast.h"
#include "transformers/chat/value.h"

namespace transformers::jinja {

struct BigInt {
  mpz_t z;
  BigInt() { mpz_init(z); }
  ~BigInt() { mpz_clear(z); }
  BigInt(const BigInt&) = delete;
  BigInt& operator=(const BigInt&) = delete;
};

class Context;

// An int Value from `z`: a plain int64 when it fits.
Value int_from_mpz(mpz_srcptr z);
// int(text, base) for a run of digits (sign and underscores already handled); nullopt if invalid.
std::optional<Value> parse_big_int(std::string_view digits, int base);
// Python's int(d) for any finite double.
Value int_from_double(double d);
// +, -, *, //, %, ** and / where an operand is a BigInt or an int64 result would overflow.
Value big_arith(Context& ctx, BinOp op, const Value& a, const Value& b);
// -x for an int (INT64_MIN or a BigInt).
Value big_negate(const Value& v);
// <0, 0, >0 between two numbers at least one of which is a BigInt.
int big_compare(const Value& a, const Value& b);
// str(): decimal digits (Python refuses beyond 4300 digits: ValueError).
std::string big_str(const BigInt& b);
// float(): OverflowError beyond the double range.
double big_to_double(const BigInt& b);

}  // namespace transformers::jinja
