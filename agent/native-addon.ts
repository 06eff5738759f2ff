// The agent's native addon (native/relay/, built by `make build` into
// native/relay/build/Release/dvm_relay.node): the TLS relay (tunnel/native-relay.ts) and the source
// walk (progress/source-size.ts). Loaded once, on first use; where it cannot be (not built, another
// platform) each user falls back to its JavaScript version and says why.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where `make build` puts the addon, seen from dist/agent/ (the built agent, the image) or from
 * agent/ (the tests run the sources). */
const ADDON_CANDIDATES = ['../../native/relay/build/Release/dvm_relay.node', '../native/relay/build/Release/dvm_relay.node'].map((relative) =>
  fileURLToPath(new URL(relative, import.meta.url)),
);
const BUILT = ADDON_CANDIDATES.find((path) => existsSync(path));
const ADDON_PATH = BUILT ?? ADDON_CANDIDATES[0]!;

export type NativeAddon = { available: true; exports: Record<string, unknown> } | { available: false; reason: string };

let loaded: NativeAddon | undefined;

export function nativeAddon(): NativeAddon {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loaded = { available: false, reason: `the native addon is built for Linux only (this is ${process.platform})` };
  } else if (BUILT === undefined) {
    loaded = { available: false, reason: `${ADDON_PATH} is not built (make build)` };
  } else {
    try {
      loaded = { available: true, exports: createRequire(import.meta.url)(ADDON_PATH) as Record<string, unknown> };
    } catch (error) {
      loaded = { available: false, reason: `cannot load ${ADDON_PATH}: ${(error as Error).message}` };
    }
  }
  return loaded;
}
