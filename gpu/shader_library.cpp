#include "gpu/shader_library.h"

#include <string>

#include "core/util/error.h"

namespace qb::gpu {

std::span<const uint32_t> shader_code(std::string_view name) {
    for (const EmbeddedShader& shader : embedded_shaders())
        if (shader.name == name) return shader.code;
    throw Error("shader " + std::string(name), "no such embedded shader");
}

}  // namespace qb::gpu
