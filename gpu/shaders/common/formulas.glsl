// GLSL side of core/formulas/formulas.h: maps the shared-formula conventions onto GLSL. Include it
// before any core/formulas/*.inc. div_exact divides in double (shaderFloat64), because a shader's
// float division may be 2.5 ulp off and the CPU's is correctly rounded; a double quotient of two
// floats rounded to float is the correctly rounded float quotient.
#extension GL_GOOGLE_include_directive : require

#define QB_FN
#define QB_CONST const
#define QB_PRECISE precise
#define QB_IN(type) in type
#define QB_OUT(type) out type
#define QB_INOUT(type) inout type
#define block_byte uint
// A block is a byte offset into the buffer the shader names BLOCK_BYTES (declared before the formulas).
#define QB_BLOCK uint
#define QB_BYTE(block, k) uint(BLOCK_BYTES[(block) + uint(k)])
#define div_exact(a, b) float(double(a) / double(b))

// C roundf. x - trunc(x) is exact for every float, whatever the device's rounding mode.
float round_half_away(float x) {
    float whole = trunc(x);
    return abs(x - whole) >= 0.5 ? whole + (x < 0.0 ? -1.0 : 1.0) : whole;
}

// C sqrtf (correctly rounded) for v >= 0: GLSL's sqrt may be a few ulp off, so the result moves to the
// neighbour whose rounding interval holds v, judged by the squares of the midpoints between neighbours
// (exact in double: 50 significant bits; sqrt of a float is never exactly a midpoint).
float sqrt_exact(float v) {
    float s = sqrt(v);
    if (!(v > 0.0) || isinf(v)) return s;
    for (int i = 0; i < 3; ++i) {
        double up = (double(s) + double(uintBitsToFloat(floatBitsToUint(s) + 1u))) * 0.5lf;
        double down = (double(s) + double(uintBitsToFloat(floatBitsToUint(s) - 1u))) * 0.5lf;
        if (up * up <= double(v)) s = uintBitsToFloat(floatBitsToUint(s) + 1u);
        else if (down * down > double(v)) s = uintBitsToFloat(floatBitsToUint(s) - 1u);
    }
    return s;
}
