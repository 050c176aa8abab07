// The smallest embedding of labrt: start a runtime, use the managers from a
// plain thread through the blocking client, shut down.
#include <iostream>

#include <labrt/client.hpp>
#include <labrt/errc.hpp>
#include <labrt/runtime.hpp>

int main() {
  auto rt = labrt::runtime::make();
  if (!rt) {
    std::cerr << labrt::render(rt.error()) << '\n';
    return 1;
  }
  labrt::client c{**rt};
  c.services().set_status("qsfp_service", true);
  auto started = c.tests().start_test("smoke.py", 4242);
  auto refused = c.tests().start_test("other.py", 4343);
  auto running = c.services().is_service_running("qsfp_service");
  bool ok = started && !refused
            && labrt::code_of(refused.error()) == labrt::errc::already_running
            && running && *running;
  std::cout << "embedded labrt: " << (ok ? "ok" : "FAILED") << '\n';
  return ok ? 0 : 1;
}
