# cmake -DINPUT=x.spv -DOUTPUT=x_spv.cpp -DSYMBOL=name -P embed_spirv.cmake
# Writes the SPIR-V module as a uint32_t array (SPIR-V is a little-endian word stream).
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR words "${hex_length} / 8")
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," body "${hex}")
string(REGEX REPLACE "((0x........u,){8})" "\\1\n    " body "${body}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by gpu/embed_spirv.cmake: do not edit.\n"
  "#include <cstddef>\n#include <cstdint>\n\n"
  "extern const uint32_t ${SYMBOL}[] = {\n    ${body}\n};\n"
  "extern const size_t ${SYMBOL}_words = ${words};\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
