# node-gyp build of the native relay (agent/tunnel/native-relay.ts loads build/Release/dvm_relay.node).
# No OpenSSL library is linked: the symbols are the ones the node binary exports (it carries its own
# OpenSSL), and node-gyp puts node's copy of the OpenSSL headers on the include path.
{
  "targets": [
    {
      "target_name": "dvm_relay",
      "sources": ["addon.c", "relay.c", "record.c"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"]
    }
  ]
}
