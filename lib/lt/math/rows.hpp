// Row kernels of the training-free core over dense row-major blocks, on the
// threads of set_threads(). Float32 data; the accumulations that decide
// results (norms, dot products that settle a ranking, softmax normalisers)
// are in double.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

namespace lt::math {

// body(begin, end) over [0, count) in contiguous chunks of at least `grain`,
// one chunk per thread; serial when there is one chunk.
void parallel_for(std::int64_t count, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& body);

// 1 / max(||row||, 1e-12) for each row (as torch.nn.functional.normalize
// divides): a zero row scaled by it stays zero instead of becoming NaN.
void inverse_norms(const float* rows, std::int64_t count, std::int64_t dim, double* out);
// The rows scaled to unit length in place, in that sense.
void normalize_rows(float* rows, std::int64_t count, std::int64_t dim);
void normalize_rows(double* rows, std::int64_t count, std::int64_t dim);
// out[r] = rows[r] * scales[r].
void scale_rows(const float* rows, const double* scales, std::int64_t count, std::int64_t dim, float* out);

// Sum of a[i] * b[i] in double: every product is exact, so the result is
// the exact dot product of the float vectors to about 1e-16.
double dot(const float* a, const float* b, std::int64_t n);
// The same with a converted to double once, for many dot products with it.
double dot(const double* a, const float* b, std::int64_t n);

// y[i] += x[i].
void add(const float* x, std::int64_t n, float* y);
void add(const double* x, std::int64_t n, double* y);

// Softmax of tau * s over n values: out[j] = exp(tau (s[j] - max s)) / Z
// with the normaliser Z summed in double. Subtracting the maximum keeps a
// large tau from overflowing; tau = 0 gives the uniform distribution.
void softmax(const float* s, std::int64_t n, double tau, float* out);
void softmax(const double* s, std::int64_t n, double tau, double* out);
// out[j] = exp(tau (s[j] - max s)), not normalised: values in (0, 1].
void softmax_weights(const float* s, std::int64_t n, double tau, float* out);
// max s and log-free normaliser: returns Z = sum_j exp(tau (s[j] - max)),
// in double, and the maximum in *maximum (for probabilities of a few
// entries: p_j = exp(tau (s_j - max)) / Z).
double softmax_normaliser(const float* s, std::int64_t n, double tau, float* maximum);

// The first j in [from, count) with s[j] >= threshold, else count; 16
// values a step.
std::int64_t first_at_least(const float* s, std::int64_t from, std::int64_t count, float threshold);

// Sorts n floats into decreasing order (a radix sort of their bits: linear
// time); scratch is resized as needed.
void sort_decreasing(float* values, std::int64_t n, std::vector<std::uint32_t>& scratch);

// Scores that a tau above this multiplies are computed in double: the
// float32 rounding of a cosine (~1e-7) becomes tau times larger in the
// exponent of the softmax.
inline constexpr double kFloatTauLimit = 100;

// e^x for x <= 0 in float, within about 2 ulp, and 0 below -87 (float's
// normal range ends near e^-87.3). Inline so that loops over it vectorise,
// which loops over std::exp do not.
inline float exp_nonpositive(float x) {
    // Cody-Waite reduction x = n ln2 + r, then Cephes' polynomial for e^r.
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float clamped = x < -87.0f ? -87.0f : x;
    const float shifted = clamped * 1.44269504088896341f + magic;
    const float n = shifted - magic;
    const float r = clamped - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    std::int32_t shifted_bits, magic_bits;
    std::memcpy(&shifted_bits, &shifted, 4);
    std::memcpy(&magic_bits, &magic, 4);
    const std::int32_t power_bits = (shifted_bits - magic_bits + 127) * (1 << 23);
    float power;
    std::memcpy(&power, &power_bits, 4);
    return x < -87.0f ? 0.0f : p * power;
}

}  // namespace lt::math
