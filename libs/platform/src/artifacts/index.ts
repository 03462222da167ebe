export {
  ArtifactErrorIds,
  type ArtifactData,
  type ArtifactErrorId,
  type ArtifactPutOptions,
  type ArtifactRef,
  type ArtifactStore,
  type ArtifactStoreKind,
} from './artifact.port.js';
export { ArtifactError, MAX_NAME_LENGTH } from './artifact.shared.js';
export { LocalDirArtifactStore, type LocalDirArtifactStoreOptions } from './local-dir.store.js';
export { JetStreamArtifactStore, digestToHex, type JetStreamArtifactStoreOptions } from './jetstream.store.js';
export { artifactRoot, createArtifactStore, type ArtifactEnv } from './factory.js';
