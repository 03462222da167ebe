import { join } from 'node:path';
import type { Bus } from '../bus/bus.port.js';
import { JetStreamBus } from '../bus/jetstream.bus.js';
import type { Profile } from '../config/env-schemas.js';
import type { ArtifactStore } from './artifact.port.js';
import { JetStreamArtifactStore } from './jetstream.store.js';
import { LocalDirArtifactStore } from './local-dir.store.js';

/** The environment keys the artefact store is configured from (a subset of the base env). */
export interface ArtifactEnv {
  NOCTRIA_PROFILE: Profile;
  NOCTRIA_DATA_DIR: string;
  NATS_URL?: string | undefined;
  NOCTRIA_BUS_PREFIX?: string | undefined;
  NOCTRIA_ARTIFACT_DIR?: string | undefined;
  NOCTRIA_ARTIFACT_REPLICAS?: number | undefined;
}

/**
 * Root of the embedded store. A `store/` directory of its own keeps it apart from the ingest exporter's partition
 * tree (`INGEST_ARTIFACT_DIR`, `<data>/artifacts/<tf>/…`).
 */
export function artifactRoot(env: Pick<ArtifactEnv, 'NOCTRIA_DATA_DIR' | 'NOCTRIA_ARTIFACT_DIR'>): string {
  return env.NOCTRIA_ARTIFACT_DIR ?? join(env.NOCTRIA_DATA_DIR, 'artifacts', 'store');
}

/**
 * The profile's artefact store: `embedded` → a local directory; `cluster` → the JetStream object store on the
 * bus's NATS connection (or a connection of its own when the bus is not the JetStream adapter).
 */
export async function createArtifactStore(env: ArtifactEnv, bus?: Bus): Promise<ArtifactStore> {
  if (env.NOCTRIA_PROFILE === 'embedded') return new LocalDirArtifactStore({ root: artifactRoot(env) });
  const settings = {
    prefix: env.NOCTRIA_BUS_PREFIX ?? '',
    ...(env.NOCTRIA_ARTIFACT_REPLICAS !== undefined ? { replicas: env.NOCTRIA_ARTIFACT_REPLICAS } : {}),
  };
  if (bus instanceof JetStreamBus) return new JetStreamArtifactStore({ connection: bus.connection, ...settings });
  if (!env.NATS_URL) throw new TypeError('the cluster artefact store needs NATS_URL or a JetStream bus');
  return JetStreamArtifactStore.connect({
    servers: env.NATS_URL.split(',').map((s) => s.trim()),
    name: 'noctria-artifacts',
    ...settings,
  });
}
