// The two kinds of volume a run copies, and what each is copied with: a Filesystem PVC by rsync
// (dvm-agent server/client), a Block PVC by the block copier (dvm-agent block-server/block-client,
// docs/block.md). A destination namespace with both gets one server of each kind.
export type VolumeKind = 'filesystem' | 'block';

export const VOLUME_KINDS: readonly VolumeKind[] = ['filesystem', 'block'];

export type VolumeMode = 'Filesystem' | 'Block';

export function volumeKindOf(mode: VolumeMode | undefined): VolumeKind {
  return mode === 'Block' ? 'block' : 'filesystem';
}
