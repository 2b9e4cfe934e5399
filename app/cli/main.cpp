#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("quantbench-cli %s\n", QB_VERSION);
        return 0;
    }
    std::fprintf(stderr, "usage: quantbench-cli <command> ...\n");
    return 2;
}
