#include "cli/bundle_cli.hpp"

int main(int argc, char** argv) { return airlock::bundle_tool::run(argc, argv); }
