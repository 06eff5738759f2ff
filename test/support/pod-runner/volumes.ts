// Volumes as the kubelet would mount them, but as local directories: Secrets and ConfigMaps become
// files (with defaultMode), PVCs become directories under the test's root, emptyDirs temp dirs.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../fake-apiserver/store.js';

export interface VolumeSources {
  secret(namespace: string, name: string): KubeObject | undefined;
  configMap(namespace: string, name: string): KubeObject | undefined;
  pvcDirectory(namespace: string, claimName: string): string;
}

export class VolumeNotReady extends Error {}

/** volume name -> local directory. Throws VolumeNotReady when a Secret/ConfigMap does not exist yet. */
export function materializeVolumes(pod: KubeObject, podDir: string, sources: VolumeSources): Map<string, string> {
  const namespace: string = pod.metadata.namespace;
  const mounted = new Map<string, string>();
  for (const volume of pod.spec.volumes ?? []) {
    const directory = join(podDir, 'volumes', volume.name);
    if (volume.secret || volume.configMap) {
      const isSecret = Boolean(volume.secret);
      const name = isSecret ? volume.secret.secretName : volume.configMap.name;
      const object = isSecret ? sources.secret(namespace, name) : sources.configMap(namespace, name);
      if (!object) throw new VolumeNotReady(`MountVolume.SetUp failed for volume "${volume.name}": ${isSecret ? 'secret' : 'configmap'} "${name}" not found`);
      mkdirSync(directory, { recursive: true });
      const mode = (isSecret ? volume.secret.defaultMode : volume.configMap.defaultMode) ?? 0o644;
      for (const [key, value] of Object.entries<string>(object.data ?? {})) {
        const file = join(directory, key);
        writeFileSync(file, isSecret ? Buffer.from(value, 'base64') : value);
        chmodSync(file, mode);
      }
      mounted.set(volume.name, directory);
    } else if (volume.persistentVolumeClaim) {
      const local = sources.pvcDirectory(namespace, volume.persistentVolumeClaim.claimName);
      mkdirSync(local, { recursive: true });
      mounted.set(volume.name, local);
    } else if (volume.emptyDir) {
      mkdirSync(directory, { recursive: true });
      mounted.set(volume.name, directory);
    }
  }
  return mounted;
}
