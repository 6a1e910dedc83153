#include "commands/airlock.hpp"

int main(int argc, char** argv) { return airlock::commands::run(argc, argv); }
