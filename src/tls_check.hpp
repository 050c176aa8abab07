// The cluster's certificates, checked once at start (internal).
#pragma once

#include <caf/error.hpp>

#include "labrt/config.hpp"

namespace labrt {

/// Checks at start what CAF's TLS would otherwise meet per connection, where
/// a bad file closes the connection without a reason: every file a readable
/// PEM, the key unencrypted, private (mode 0600) and the certificate's, the
/// certificate valid now, and the certificate not signed by the CA it trusts
/// (one CA for both roles would let an agent's certificate drive agents).
/// The error names the field and says what is wrong.
caf::error check_tls(const cluster_tls& tls);

} // namespace labrt
