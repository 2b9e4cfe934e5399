// Grid helpers. The including shader declares its workgroup size as WORKGROUP_SIZE (codec shaders:
// specialization constant 0, also bound to local_size_x_id; glslang folds gl_WorkGroupSize to its
// default when the size is specialized, so read the constant). The host folds a large 1-D grid into
// x and y (maxComputeWorkGroupCount is 65535 per dimension on many devices); a group past the real
// end returns at once.
uint linear_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
uint linear_invocation() { return linear_group() * WORKGROUP_SIZE + gl_LocalInvocationID.x; }
