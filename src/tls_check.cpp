// The cluster's certificates, checked with OpenSSL before CAF loads them.
#include "src/tls_check.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "src/config_check.hpp"
#include "src/sys_util.hpp"

namespace labrt {

namespace {

template <class T, void (*Free)(T*)>
struct openssl_free {
  void operator()(T* x) const noexcept { Free(x); }
};
using bio_ptr = std::unique_ptr<BIO, openssl_free<BIO, BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, openssl_free<X509, X509_free>>;
using key_ptr = std::unique_ptr<EVP_PKEY, openssl_free<EVP_PKEY, EVP_PKEY_free>>;
using store_ptr =
  std::unique_ptr<X509_STORE, openssl_free<X509_STORE, X509_STORE_free>>;
using store_ctx_ptr =
  std::unique_ptr<X509_STORE_CTX,
                  openssl_free<X509_STORE_CTX, X509_STORE_CTX_free>>;
using chain_ptr = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;

/// A file's PEM text as a memory BIO; the error says why it cannot be read.
caf::expected<bio_ptr> open_pem(const std::string& field,
                                const std::string& path) {
  std::string text;
  if (!read_file(path, text))
    return config_error(field, "'" + path + "' cannot be read: "
                                 + errno_text(errno));
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || BIO_write(bio.get(), text.data(), static_cast<int>(text.size()))
                != static_cast<int>(text.size()))
    return config_error(field, "out of memory reading '" + path + "'");
  return bio;
}

std::string time_text(const ASN1_TIME* t) {
  bio_ptr out{BIO_new(BIO_s_mem())};
  if (!out || ASN1_TIME_print(out.get(), t) != 1)
    return "?";
  char* data = nullptr;
  auto n = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

/// Refuses, instead of asking on the terminal, for a key's passphrase.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

struct loaded {
  store_ptr trusted{X509_STORE_new()};
  x509_ptr cert;
  chain_ptr chain{sk_X509_new_null(), [](STACK_OF(X509)* s) {
                    sk_X509_pop_free(s, X509_free);
                  }};
};

caf::error load_ca(const std::string& path, loaded& out) {
  const std::string field = "cluster.tls.ca";
  auto bio = open_pem(field, path);
  if (!bio)
    return std::move(bio.error());
  int count = 0;
  while (x509_ptr ca{PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr)}) {
    X509_STORE_add_cert(out.trusted.get(), ca.get());
    ++count;
  }
  ERR_clear_error(); // The end of the file reads as an error.
  if (count == 0)
    return config_error(field, "'" + path + "' holds no PEM certificate");
  return caf::none;
}

caf::error load_cert(const std::string& path, loaded& out) {
  const std::string field = "cluster.tls.cert";
  auto bio = open_pem(field, path);
  if (!bio)
    return std::move(bio.error());
  out.cert.reset(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  if (!out.cert) {
    ERR_clear_error();
    return config_error(field, "'" + path + "' holds no PEM certificate");
  }
  while (auto next = PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr))
    sk_X509_push(out.chain.get(), next);
  ERR_clear_error();
  auto not_before = X509_get0_notBefore(out.cert.get());
  auto not_after = X509_get0_notAfter(out.cert.get());
  if (X509_cmp_current_time(not_before) >= 0)
    return config_error(field, "'" + path + "' is not valid before "
                                 + time_text(not_before));
  if (X509_cmp_current_time(not_after) <= 0)
    return config_error(field, "'" + path + "' expired on "
                                 + time_text(not_after));
  return caf::none;
}

caf::error check_key(const std::string& path, const std::string& cert_path,
                     X509* cert) {
  const std::string field = "cluster.tls.key";
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    return config_error(field, "'" + path + "' may be read by other users: "
                                            "chmod 600 it");
  auto bio = open_pem(field, path);
  if (!bio)
    return std::move(bio.error());
  key_ptr key{PEM_read_bio_PrivateKey(bio->get(), nullptr, no_passphrase,
                                      nullptr)};
  ERR_clear_error();
  if (!key)
    return config_error(field, "'" + path + "' is not an unencrypted PEM "
                                            "private key");
  if (X509_check_private_key(cert, key.get()) != 1) {
    ERR_clear_error();
    return config_error(field, "'" + path + "' is not the key of '"
                                 + cert_path + "'");
  }
  return caf::none;
}

/// True if the trusted CA signed the certificate itself.
bool chains_to(loaded& in) {
  store_ctx_ptr ctx{X509_STORE_CTX_new()};
  if (!ctx
      || X509_STORE_CTX_init(ctx.get(), in.trusted.get(), in.cert.get(),
                             in.chain.get())
           != 1)
    return false;
  auto ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

} // namespace

caf::error check_tls(const cluster_tls& tls) {
  if (tls.ca.empty() || tls.cert.empty() || tls.key.empty())
    return config_error("cluster.tls", "needs all of ca, cert and key");
  loaded in;
  if (!in.trusted || !in.chain)
    return config_error("cluster.tls", "out of memory");
  if (auto err = load_ca(tls.ca, in))
    return err;
  if (auto err = load_cert(tls.cert, in))
    return err;
  if (auto err = check_key(tls.key, tls.cert, in.cert.get()))
    return err;
  if (chains_to(in))
    return config_error("cluster.tls.ca",
                        "'" + tls.ca + "' also signed '" + tls.cert
                          + "': agents and orchestrators need certificates of "
                            "separate CAs, each trusting only the other's "
                            "(docs/cluster.md)");
  return caf::none;
}

} // namespace labrt
