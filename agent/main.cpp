#include "cli/agent_cli.hpp"

int main(int argc, char** argv) { return airlock::agent::run(argc, argv); }
