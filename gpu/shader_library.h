// The SPIR-V of every gpu/shaders/*.comp, compiled by glslc at build time and linked into qbgpu
// (generated embedded_shaders.cpp), so nothing is looked up on disk at run time.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

namespace qb::gpu {

struct EmbeddedShader {
    std::string_view name;  // file name without .comp
    std::span<const uint32_t> code;
};

std::span<const EmbeddedShader> embedded_shaders();
std::span<const uint32_t> shader_code(std::string_view name);  // throws Error(name, "no such embedded shader")

}  // namespace qb::gpu
