// Who a client certificate is for. The controller puts one identity per destination PVC into that
// PVC's client certificate (a URI subject alternative name); the server agent serves a module only
// to a certificate carrying the module's identity (agent/rsync/daemon-request.ts, docs/confinement.md).
import { z } from 'zod';

const PREFIX = 'urn:dvm:pvc:';

export function pvcIdentity(namespace: string, name: string): string {
  return `${PREFIX}${namespace}/${name}`;
}

/** What a module's `client` (the identity it serves) must look like in the agent config. */
export const pvcIdentityUri = z.string().regex(/^urn:dvm:pvc:[^\s,]+$/, `must be a ${PREFIX} identity`);
