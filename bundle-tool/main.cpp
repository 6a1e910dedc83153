#include "bundle_commands/airlock_bundle.hpp"

int main(int argc, char** argv) { return airlock::bundle_tool::run(argc, argv); }
