// Grid helpers. The host folds a large 1-D grid into x and y (maxComputeWorkGroupCount is 65535 per
// dimension on many devices); a group past the real end returns at once.
uint linear_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
uint linear_invocation() { return linear_group() * gl_WorkGroupSize.x + gl_LocalInvocationID.x; }
