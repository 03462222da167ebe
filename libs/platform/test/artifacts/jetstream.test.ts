import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { ArtifactErrorIds, digestToHex, JetStreamArtifactStore, type ArtifactRef } from '../../src/index.js';
import { enc, randomPrefix } from '../bus/helpers.js';
import { expectArtifactError, pseudoRandomChunks, runArtifactContract, sha256Hex } from './artifact.contract.js';

const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

async function deleteBuckets(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`OBJ_${prefix}_`)) await jsm.streams.delete(name);
  }
}

runArtifactContract('JetStreamArtifactStore', 'jetstream', async () => {
  const prefix = randomPrefix('art');
  const nc = await connect({ servers: NATS_URL, name: `artifacts-contract-${prefix}` });
  const store = new JetStreamArtifactStore({ connection: nc, prefix, chunkBytes: 64 * 1024 });
  const second = await JetStreamArtifactStore.connect({ servers: NATS_URL, name: `artifacts-contract-2-${prefix}`, prefix });
  const raw = new Objm(nc);
  return {
    store,
    second,
    async corruptStored(ref: ArtifactRef) {
      // Move the first chunk to the end with one byte flipped: same size and chunk count, different bytes.
      const bucket = store.jetStreamBucket(ref.bucket);
      const os = await raw.open(bucket);
      const info = (await os.info(ref.name))!;
      const jsm = await jetstreamManager(nc);
      const first = (await jsm.streams.getMessage(`OBJ_${bucket}`, { seq: 1, next_by_subj: `$O.${bucket}.C.${info.nuid}` } as unknown as { seq: number }))!;
      const altered = new Uint8Array(first.data);
      altered[10] = altered[10]! ^ 0xff;
      await jsm.streams.deleteMessage(`OBJ_${bucket}`, first.seq);
      await jetstream(nc).publish(first.subject, altered);
    },
    async replaceOutOfBand(ref: ArtifactRef, data: Uint8Array) {
      const os = await raw.open(store.jetStreamBucket(ref.bucket));
      await os.putBlob({ name: ref.name }, data);
    },
    async cleanup() {
      await store.close();
      await second.close();
      await deleteBuckets(nc, prefix);
      await nc.close();
    },
  };
});

describe('JetStreamArtifactStore specifics', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const prefixes: string[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL, name: 'artifacts-specifics' });
    jsm = await jetstreamManager(nc);
  });
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await deleteBuckets(nc, p);
  });
  afterAll(async () => {
    await nc.close();
  });
  const fresh = (): { prefix: string; store: JetStreamArtifactStore } => {
    const prefix = randomPrefix('arx');
    prefixes.push(prefix);
    return { prefix, store: new JetStreamArtifactStore({ connection: nc, prefix }) };
  };

  it('one file-storage object-store bucket per artefact bucket, named <prefix>_<bucket>; close() leaves a borrowed connection open', async () => {
    const { prefix, store } = fresh();
    await store.put('models', 'm', enc('x'));
    const si = await jsm.streams.info(`OBJ_${prefix}_models`);
    expect(si.config.storage).toBe('file');
    expect(si.config.num_replicas).toBe(1);
    expect(si.config.subjects.sort()).toEqual([`$O.${prefix}_models.C.>`, `$O.${prefix}_models.M.>`]);
    await store.close();
    expect(nc.isClosed()).toBe(false);
  });

  it('writes standard object-store objects: the raw obj API reads them, and the store reads objects the raw API wrote', async () => {
    const { prefix, store } = fresh();
    const total = 1_000_000;
    const ref = await store.put('datasets', 'x/y.bin', pseudoRandomChunks(total, 3), { contentType: 'application/x-parquet', metadata: { rows: '1000' } });
    const os = await new Objm(nc).open(`${prefix}_datasets`);
    const info = (await os.info('x/y.bin'))!;
    expect(info.chunks).toBe(Math.ceil(total / (128 * 1024)));
    expect(digestToHex(info.digest)).toBe(ref.sha256);
    expect(info.headers?.get('Content-Type')).toBe('application/x-parquet');
    expect(info.metadata).toEqual({ rows: '1000' });
    expect(sha256Hex((await os.getBlob('x/y.bin'))!)).toBe(ref.sha256);

    await os.putBlob({ name: 'foreign' }, enc('written by another client'));
    const foreign = (await store.stat('datasets', 'foreign'))!;
    expect(foreign).toEqual({ store: 'jetstream', bucket: 'datasets', name: 'foreign', sha256: sha256Hex('written by another client'), size: 25, createdAt: expect.any(String) });
    expect(Buffer.from(await store.get(foreign)).toString()).toBe('written by another client');
  });

  it('detects chunks appended to an object (size no longer matches the ref)', async () => {
    const { prefix, store } = fresh();
    const ref = await store.put('models', 'm.bin', new Uint8Array(200_000).fill(7));
    const info = (await (await new Objm(nc).open(`${prefix}_models`)).info('m.bin'))!;
    await jetstream(nc).publish(`$O.${prefix}_models.C.${info.nuid}`, enc('smuggled'));
    const err = await expectArtifactError(store.get(ref), ArtifactErrorIds.Checksum);
    expect(err.details['actual_size']).toBe(200_000 + 8);
  });

  it('an abandoned read stops cleanly: the store keeps working and closes', async () => {
    const { store } = fresh();
    const ref = await store.put('datasets', 'long', pseudoRandomChunks(2_000_000, 5));
    let seen = 0;
    for await (const c of store.open(ref)) {
      seen += c.byteLength;
      break;
    }
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(2_000_000);
    expect(sha256Hex(await store.get(ref))).toBe(ref.sha256);
    await store.close();
  });

  it('a prefix with characters JetStream cannot carry is refused', () => {
    expect(() => new JetStreamArtifactStore({ connection: nc, prefix: 'bad.prefix' })).toThrow(/prefix/);
  });
});
