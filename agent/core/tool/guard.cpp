#include "tool/guard.hpp"

#include "util/error.hpp"

#include <iostream>

namespace airlock::tool {

int guarded(const std::string& tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::cerr << tool << ": internal error: " << e.what() << "\n"
              << "  This is a bug in " << tool << "; please report it with the command line you ran.\n";
    return static_cast<int>(ExitCode::failure);
  }
}

} // namespace airlock::tool
