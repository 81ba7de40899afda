#include "transformers/chat/bigint.h"

#include <cfloat>
#include <cmath>

#include "transformers/chat/context.h"

namespace transformers::jinja {

namespace {

// Python refuses to print or parse ints of more decimal digits than this (3.11's default).
constexpr size_t kMaxStrDigits = 4300;

bool int_like(const Value& v) { return v.is_int() || v.is_bool() || v.is_bigint(); }

void to_mpz(const Value& v, mpz_t out) {
  if (v.is_bigint()) {
    mpz_set(out, v.as_bigint().z);
    return;
  }
  int64_t i = v.to_int();
  // mpz_set_si takes a long (64-bit on the platforms we build for).
  static_assert(sizeof(long) == sizeof(int64_t));
  mpz_set_si(out, static_cast<long>(i));
}

// Fails like a budget when a result would need more than the output limit in bytes.
void check_bits(Context& ctx, double bits) {
  double bytes = bits / 8;
  ctx.check_size(bytes >= static_cast<double>(SIZE_MAX) ? SIZE_MAX : static_cast<size_t>(bytes));
}

[[noreturn]] void too_large_for_float() {
  raise("OverflowError", "int too large to convert to float");
}

}  // namespace

Value int_from_mpz(mpz_srcptr z) {
  if (mpz_fits_slong_p(z)) return Value(static_cast<int64_t>(mpz_get_si(z)));
  auto b = std::make_shared<BigInt>();
  mpz_set(b->z, z);
  return Value(std::shared_ptr<const BigInt>(std::move(b)));
}

std::optional<Value> parse_big_int(std::string_view digits, int base) {
  if (digits.empty()) return std::nullopt;
  if (base == 10 && digits.size() > kMaxStrDigits)
    raise("ValueError",
          "Exceeds the limit (4300 digits) for integer string conversion: value has " +
              std::to_string(digits.size()) +
              " digits; use sys.set_int_max_str_digits() to increase the limit");
  BigInt b;
  if (mpz_set_str(b.z, std::string(digits).c_str(), base) != 0) return std::nullopt;
  return int_from_mpz(b.z);
}

Value int_from_double(double d) {
  if (std::isnan(d)) raise("ValueError", "cannot convert float NaN to integer");
  if (std::isinf(d)) raise("OverflowError", "cannot convert float infinity to integer");
  BigInt b;
  mpz_set_d(b.z, d);  // truncates toward zero, exactly
  return int_from_mpz(b.z);
}

std::string big_str(const BigInt& b) {
  static const char* kTooLong =
      "Exceeds the limit (4300 digits) for integer string conversion; use "
      "sys.set_int_max_str_digits() to increase the limit";
  size_t estimate = mpz_sizeinbase(b.z, 10);  // exact or one too many
  if (estimate > kMaxStrDigits + 1) raise("ValueError", kTooLong);
  std::string s(estimate + 2, '\0');
  mpz_get_str(s.data(), 10, b.z);
  s.resize(std::char_traits<char>::length(s.c_str()));
  if (s.size() - (s[0] == '-' ? 1 : 0) > kMaxStrDigits) raise("ValueError", kTooLong);
  return s;
}

double big_to_double(const BigInt& b) {
  // mpz_get_d truncates; Python rounds to nearest. Round through the top 54 bits by hand.
  size_t bits = mpz_sizeinbase(b.z, 2);
  if (bits > DBL_MAX_EXP) too_large_for_float();
  double d = mpz_get_d(b.z);
  if (bits > DBL_MANT_DIG) {
    mpz_t rest;
    mpz_init(rest);
    mpz_set_d(rest, d);
    mpz_sub(rest, b.z, rest);  // what truncation dropped, same sign as b
    double ulp = std::ldexp(1.0, static_cast<int>(bits) - DBL_MANT_DIG);
    int cmp = mpz_cmpabs_d(rest, ulp / 2);
    bool odd = std::fmod(std::abs(d) / ulp, 2.0) == 1.0;
    if (cmp > 0 || (cmp == 0 && odd)) d += std::copysign(ulp, d);
    mpz_clear(rest);
    if (std::isinf(d)) too_large_for_float();
  }
  return d;
}

int big_compare(const Value& a, const Value& b) {
  if (a.is_float() || b.is_float()) {
    const Value& f = a.is_float() ? a : b;
    const Value& i = a.is_float() ? b : a;
    double d = f.as_float();
    if (std::isnan(d)) return 1;  // unordered: neither == nor <
    BigInt x;
    to_mpz(i, x.z);
    int c = std::isinf(d) ? (d > 0 ? -1 : 1) : mpz_cmp_d(x.z, d);
    c = c < 0 ? -1 : c > 0 ? 1 : 0;
    return a.is_float() ? -c : c;
  }
  BigInt x, y;
  to_mpz(a, x.z);
  to_mpz(b, y.z);
  int c = mpz_cmp(x.z, y.z);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

Value big_negate(const Value& v) {
  BigInt x;
  to_mpz(v, x.z);
  mpz_neg(x.z, x.z);
  return int_from_mpz(x.z);
}

Value big_arith(Context& ctx, BinOp op, const Value& a, const Value& b) {
  if (!int_like(a) || !int_like(b)) {
    if (op == BinOp::Mul && (a.is_string() || a.is_list() || b.is_string() || b.is_list()))
      raise("OverflowError", "cannot fit 'int' into an index-sized integer");
    // With a float the int converts (or fails to); with anything else the int's own TypeError.
    auto demote = [](const Value& v) {
      if (!v.is_bigint()) return v;
      return Value(big_to_double(v.as_bigint()));
    };
    bool numbers = a.is_number() && b.is_number();
    return binary_op(ctx, op, numbers ? demote(a) : (a.is_bigint() ? Value(int64_t{0}) : a),
                     numbers ? demote(b) : (b.is_bigint() ? Value(int64_t{0}) : b));
  }
  BigInt x, y, r;
  to_mpz(a, x.z);
  to_mpz(b, y.z);
  double bx = static_cast<double>(mpz_sizeinbase(x.z, 2)),
         by = static_cast<double>(mpz_sizeinbase(y.z, 2));
  switch (op) {
    case BinOp::Add:
    case BinOp::Sub:
      check_bits(ctx, std::max(bx, by) + 1);
      (op == BinOp::Add ? mpz_add : mpz_sub)(r.z, x.z, y.z);
      break;
    case BinOp::Mul:
      check_bits(ctx, bx + by);
      mpz_mul(r.z, x.z, y.z);
      break;
    case BinOp::Div: {
      if (mpz_sgn(y.z) == 0) raise("ZeroDivisionError", "division by zero");
      mpq_t q;
      mpq_init(q);
      mpq_set_num(q, x.z);
      mpq_set_den(q, y.z);
      mpq_canonicalize(q);
      double d = mpq_get_d(q);
      mpq_clear(q);
      if (std::isinf(d) || std::abs(d) > DBL_MAX)
        raise("OverflowError", "integer division result too large for a float");
      return Value(d);
    }
    case BinOp::FloorDiv:
    case BinOp::Mod:
      if (mpz_sgn(y.z) == 0)
        raise("ZeroDivisionError",
              op == BinOp::Mod ? "integer modulo by zero" : "integer division or modulo by zero");
      (op == BinOp::FloorDiv ? mpz_fdiv_q : mpz_fdiv_r)(r.z, x.z, y.z);  // floor: Python's signs
      break;
    case BinOp::Pow: {
      if (mpz_sgn(y.z) < 0) {
        double base =
            a.is_bigint() ? big_to_double(a.as_bigint()) : static_cast<double>(a.to_int());
        if (base == 0.0) raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
        return Value(std::pow(
            base, b.is_bigint() ? big_to_double(b.as_bigint()) : static_cast<double>(b.to_int())));
      }
      if (mpz_cmpabs_ui(x.z, 1) <= 0) {  // 0, 1, -1: any exponent
        bool odd = mpz_odd_p(y.z);
        if (mpz_sgn(x.z) == 0) return Value(int64_t{mpz_sgn(y.z) == 0 ? 1 : 0});
        return Value(int64_t{mpz_sgn(x.z) < 0 && odd ? -1 : 1});
      }
      if (!mpz_fits_ulong_p(y.z)) check_bits(ctx, HUGE_VAL);
      unsigned long e = mpz_get_ui(y.z);
      long exponent = 0;
      double mantissa = mpz_get_d_2exp(&exponent, x.z);  // |x| = mantissa * 2^exponent
      check_bits(ctx, (static_cast<double>(exponent) + std::log2(std::abs(mantissa))) * static_cast<double>(e));
      mpz_pow_ui(r.z, x.z, e);
      break;
    }
  }
  return int_from_mpz(r.z);
}

}  // namespace transformers::jinja
