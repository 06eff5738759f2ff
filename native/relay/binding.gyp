# node-gyp build of the agent's native addon, build/Release/dvm_relay.node: the TLS relay
# (agent/tunnel/native-relay.ts) and the source walk (agent/progress/source-size.ts).
# No OpenSSL library is linked: the symbols are the ones the node binary exports (it carries its own
# OpenSSL), and node-gyp puts node's copy of the OpenSSL headers on the include path.
{
  "targets": [
    {
      "target_name": "dvm_relay",
      "sources": ["addon.c", "relay.c", "record.c", "walk-addon.c", "walk.c"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"]
    }
  ]
}
