#version 450
#extension GL_GOOGLE_include_directive : require
#define BLOCK_VALUES 32u
#define BLOCK_BYTES_COUNT 24u
#define ENCODE_BLOCK q5_1_encode_block
#include "common/block_codec.glsl"
