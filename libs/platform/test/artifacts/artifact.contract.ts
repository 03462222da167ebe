/**
 * The one contract suite both ArtifactStore adapters must pass (see artifact.port.ts). Each test gets fresh
 * stores over a fresh backing store from `make`; expected digests are computed here with node:crypto over the
 * test's own input, never taken from the store.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ArtifactErrorIds, NoctriaError, type ArtifactRef, type ArtifactStore } from '../../src/index.js';
import { enc, gate, turns } from '../bus/helpers.js';

export interface ArtifactContext {
  store: ArtifactStore;
  /** A second store instance over the same backing store (other connection / other object on the same directory). */
  second: ArtifactStore;
  /** Changes stored bytes of `ref` without going through the store (same length where the medium allows). */
  corruptStored(ref: ArtifactRef): Promise<void>;
  /** Puts other bytes under the ref's name the way a foreign writer would (raw object-store API / raw files). */
  replaceOutOfBand(ref: ArtifactRef, data: Uint8Array): Promise<void>;
  cleanup(): Promise<void>;
}

export const sha256Hex = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** xorshift32 bytes in irregular chunk sizes: deterministic, incompressible, not aligned to any store chunk. */
export async function* pseudoRandomChunks(totalBytes: number, seed: number): AsyncGenerator<Uint8Array> {
  let x = seed >>> 0 || 1;
  let left = totalBytes;
  let turn = 0;
  while (left > 0) {
    const size = Math.min(left, 1_000 + ((turn++ * 7_919) % 97_000));
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      chunk[i] = x & 0xff;
    }
    left -= size;
    yield chunk;
  }
}

export async function expectArtifactError(p: Promise<unknown>, id: string): Promise<NoctriaError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(NoctriaError);
  expect((caught as NoctriaError).id).toBe(id);
  return caught as NoctriaError;
}

async function drain(iterable: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number; chunks: number; maxChunk: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let chunks = 0;
  let maxChunk = 0;
  for await (const c of iterable) {
    hash.update(c);
    size += c.byteLength;
    chunks += 1;
    maxChunk = Math.max(maxChunk, c.byteLength);
  }
  return { sha256: hash.digest('hex'), size, chunks, maxChunk };
}

export function runArtifactContract(name: string, kind: 'jetstream' | 'local', make: () => Promise<ArtifactContext>): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    let ctx: ArtifactContext;
    let store: ArtifactStore;

    beforeEach(async () => {
      ctx = await make();
      store = ctx.store;
    });

    afterEach(async () => {
      await ctx.cleanup();
    });

    it('puts and gets bytes; the ref carries the independent sha256, size, content type, metadata and commit time', async () => {
      const bytes = enc('hello, artefact');
      const before = Date.now();
      const ref = await store.put('models', 'ai1/v1.bin', bytes, { contentType: 'application/octet-stream', metadata: { seed: '42', code: 'abc123' } });
      const after = Date.now();
      expect(ref).toEqual({
        store: kind,
        bucket: 'models',
        name: 'ai1/v1.bin',
        sha256: sha256Hex('hello, artefact'),
        size: 15,
        contentType: 'application/octet-stream',
        metadata: { seed: '42', code: 'abc123' },
        createdAt: expect.any(String),
      });
      const created = Date.parse(ref.createdAt);
      expect(new Date(created).toISOString()).toBe(ref.createdAt);
      expect(created).toBeGreaterThanOrEqual(before - 1);
      expect(created).toBeLessThanOrEqual(after + 1);
      expect(Buffer.from(await store.get(ref)).toString()).toBe('hello, artefact');
      expect(await store.stat('models', 'ai1/v1.bin')).toEqual(ref);
      // Another instance over the same backing store sees the same object.
      expect(await ctx.second.stat('models', 'ai1/v1.bin')).toEqual(ref);
      expect(Buffer.from(await ctx.second.get(ref)).toString()).toBe('hello, artefact');
    });

    it('leaves contentType and metadata out of the ref when none were given; stores an empty object', async () => {
      const ref = await store.put('reports', 'empty', new Uint8Array(0));
      expect(ref).toEqual({ store: kind, bucket: 'reports', name: 'empty', sha256: sha256Hex(''), size: 0, createdAt: expect.any(String) });
      expect((await store.get(ref)).byteLength).toBe(0);
      expect(await drain(store.open(ref))).toMatchObject({ sha256: sha256Hex(''), size: 0 });
    });

    it('keeps names and buckets apart: "a", "a/b", "a.b" and the same name in another bucket are distinct objects; list is sorted by name', async () => {
      const a = await store.put('datasets', 'a', enc('A'));
      const ab = await store.put('datasets', 'a/b', enc('AB'));
      const adotb = await store.put('datasets', 'a.b', enc('A.B'));
      const other = await store.put('reports', 'a', enc('other bucket'));
      expect((await store.list('datasets')).map((r) => [r.name, r.sha256])).toEqual([
        ['a', sha256Hex('A')],
        ['a.b', sha256Hex('A.B')],
        ['a/b', sha256Hex('AB')],
      ]);
      expect(await store.list('reports')).toEqual([other]);
      expect(Buffer.from(await store.get(a)).toString()).toBe('A');
      expect(Buffer.from(await store.get(ab)).toString()).toBe('AB');
      expect(Buffer.from(await store.get(adotb)).toString()).toBe('A.B');
      expect(await store.list('nothing-here')).toEqual([]);
      expect(await store.stat('nothing-here', 'x')).toBeNull();
      expect(await store.stat('datasets', 'missing')).toBeNull();
    });

    it('streams a 21 MiB object in and out: digest equals the input hashed independently, output arrives in many bounded chunks', async () => {
      const total = 21 * 1024 * 1024 + 12_345;
      const expected = await drain(pseudoRandomChunks(total, 7));
      expect(expected.size).toBe(total);
      const ref = await store.put('datasets', 'snapshots/big.bin', pseudoRandomChunks(total, 7), { contentType: 'application/octet-stream' });
      expect(ref.sha256).toBe(expected.sha256);
      expect(ref.size).toBe(total);
      const streamed = await drain(ctx.second.open(ref));
      expect({ sha256: streamed.sha256, size: streamed.size }).toEqual({ sha256: expected.sha256, size: total });
      // Streaming, not one buffer: at least a chunk per 4 MiB and none above 4 MiB.
      expect(streamed.chunks).toBeGreaterThanOrEqual(6);
      expect(streamed.maxChunk).toBeLessThanOrEqual(4 * 1024 * 1024);
      expect(sha256Hex(await store.get(ref))).toBe(expected.sha256);
    }, 120_000);

    it('is idempotent for the same bytes and refuses different bytes (immutable) unless overwrite: true', async () => {
      const first = await store.put('models', 'm', enc('v1'), { metadata: { run: '1' } });
      // Same bytes, even with other metadata and through the streaming path: the stored ref, unchanged.
      expect(await store.put('models', 'm', enc('v1'), { metadata: { run: '2' } })).toEqual(first);
      expect(await ctx.second.put('models', 'm', (async function* () { yield enc('v'); yield enc('1'); })())).toEqual(first);
      const refused = await expectArtifactError(store.put('models', 'm', enc('v2')), ArtifactErrorIds.Exists);
      expect(refused.details).toMatchObject({ bucket: 'models', name: 'm', stored_sha256: sha256Hex('v1'), attempted_sha256: sha256Hex('v2') });
      await expectArtifactError(store.put('models', 'm', (async function* () { yield enc('v2'); })()), ArtifactErrorIds.Exists);
      expect(Buffer.from(await store.get(first)).toString()).toBe('v1');

      const second = await store.put('models', 'm', enc('v2!'), { overwrite: true });
      expect(second).toMatchObject({ sha256: sha256Hex('v2!'), size: 3 });
      expect(second.metadata).toBeUndefined();
      expect(Buffer.from(await store.get(second)).toString()).toBe('v2!');
      expect((await store.list('models')).map((r) => r.sha256)).toEqual([sha256Hex('v2!')]);
      // The old ref no longer matches what is stored under the name.
      const stale = await expectArtifactError(store.get(first), ArtifactErrorIds.Checksum);
      expect(stale.severity).toBe('CRITICAL');
      expect(stale.details).toMatchObject({ expected_sha256: sha256Hex('v1') });
    });

    it('deletes: true once, then false; the ref is then not found; the name can be written again', async () => {
      const ref = await store.put('reports', 'daily/2024-06-03.json', enc('{"pnl":1}'), { contentType: 'application/json' });
      expect(await store.delete('reports', 'daily/2024-06-03.json')).toBe(true);
      expect(await store.delete('reports', 'daily/2024-06-03.json')).toBe(false);
      expect(await store.delete('reports', 'never-written')).toBe(false);
      expect(await store.delete('no-such-bucket', 'x')).toBe(false);
      expect(await store.stat('reports', 'daily/2024-06-03.json')).toBeNull();
      expect(await store.list('reports')).toEqual([]);
      await expectArtifactError(store.get(ref), ArtifactErrorIds.NotFound);
      await expectArtifactError(drain(store.open(ref)), ArtifactErrorIds.NotFound);
      await expectArtifactError(store.get({ ...ref, bucket: 'no-such-bucket' }), ArtifactErrorIds.NotFound);
      const again = await store.put('reports', 'daily/2024-06-03.json', enc('{"pnl":2}'));
      expect(again.sha256).toBe(sha256Hex('{"pnl":2}'));
      expect(Buffer.from(await store.get(again)).toString()).toBe('{"pnl":2}');
    });

    it('detects corrupted stored bytes: get rejects, open yields the bytes and then throws CORE_ARTIFACT_CHECKSUM', async () => {
      const total = 3 * 1024 * 1024 + 7;
      const ref = await store.put('models', 'corrupt-me.bin', pseudoRandomChunks(total, 11));
      await ctx.corruptStored(ref);
      await expectArtifactError(store.get(ref), ArtifactErrorIds.Checksum);
      let seen = 0;
      const err = await expectArtifactError(
        (async () => {
          for await (const c of store.open(ref)) seen += c.byteLength;
        })(),
        ArtifactErrorIds.Checksum,
      );
      expect(seen).toBeGreaterThan(0);
      expect(err.details).toMatchObject({ bucket: 'models', name: 'corrupt-me.bin', expected_sha256: ref.sha256 });
      expect(err.details['actual_sha256']).not.toBe(ref.sha256);
    });

    it('detects an object replaced behind the store\'s back', async () => {
      const ref = await store.put('datasets', 'train.parquet', enc('original rows'));
      await ctx.replaceOutOfBand(ref, enc('forged rows!!'));
      await expectArtifactError(store.get(ref), ArtifactErrorIds.Checksum);
      await expectArtifactError(ctx.second.get(ref), ArtifactErrorIds.Checksum);
    });

    it('rejects invalid buckets, names and refs with CORE_ARTIFACT_NAME, and invalid metadata with CORE_ARTIFACT_META', async () => {
      const badNames = ['', '../escape', 'a/../../etc/passwd', '/absolute', 'a//b', 'trailing/', '.hidden', 'a/.b', 'back\\slash', 'nul\0byte', 'sp ace', 'é', 'a%b', 'x'.repeat(201)];
      for (const n of badNames) {
        await expectArtifactError(store.put('models', n, enc('x')), ArtifactErrorIds.Name);
        await expectArtifactError(store.stat('models', n), ArtifactErrorIds.Name);
        await expectArtifactError(store.delete('models', n), ArtifactErrorIds.Name);
      }
      for (const b of ['', 'Models', '../x', 'a/b', '_lead', '-lead', 'x'.repeat(65), 'dot.ted']) {
        await expectArtifactError(store.put(b, 'ok', enc('x')), ArtifactErrorIds.Name);
        await expectArtifactError(store.list(b), ArtifactErrorIds.Name);
      }
      const ref = await store.put('models', 'x'.repeat(200), enc('max length name'));
      expect(ref.name).toHaveLength(200);
      await expectArtifactError(store.get({ ...ref, name: '../../outside' }), ArtifactErrorIds.Name);
      await expectArtifactError(store.get({ ...ref, sha256: 'ABC' }), ArtifactErrorIds.Name);
      await expectArtifactError(store.get({ ...ref, size: -1 }), ArtifactErrorIds.Name);
      await expectArtifactError(store.put('models', 'm', enc('x'), { metadata: { 'bad key': 'v' } }), ArtifactErrorIds.Meta);
      await expectArtifactError(store.put('models', 'm', enc('x'), { metadata: { k: 'v'.repeat(1025) } }), ArtifactErrorIds.Meta);
      await expectArtifactError(store.put('models', 'm', enc('x'), { contentType: 'not a type' }), ArtifactErrorIds.Meta);
      expect(await store.stat('models', 'm')).toBeNull();
    });

    it('concurrent puts: distinct names all land; one name with the same bytes yields one object; one name with different bytes has exactly one winner', async () => {
      const stores = [store, ctx.second];
      const distinct = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 2]!.put('datasets', `part-${i}`, enc(`rows ${i}`))));
      expect(distinct.map((r) => r.sha256)).toEqual(Array.from({ length: 8 }, (_, i) => sha256Hex(`rows ${i}`)));
      expect((await store.list('datasets')).map((r) => r.name)).toEqual(Array.from({ length: 8 }, (_, i) => `part-${i}`));

      const same = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.put('datasets', 'same', enc('identical bytes'))));
      expect(same.map((s) => s.status)).toEqual(Array(6).fill('fulfilled'));
      const refs = same.map((s) => (s as PromiseFulfilledResult<ArtifactRef>).value);
      for (const r of refs) expect(r.sha256).toBe(sha256Hex('identical bytes'));
      expect((await store.list('datasets')).filter((r) => r.name === 'same')).toHaveLength(1);

      const payloads = Array.from({ length: 6 }, (_, i) => `writer ${i} `.repeat(1_000 + i));
      const racing = await Promise.allSettled(payloads.map((p, i) => stores[i % 2]!.put('datasets', 'contested', enc(p))));
      const winners = racing.flatMap((s, i) => (s.status === 'fulfilled' ? [{ i, ref: s.value }] : []));
      expect(winners).toHaveLength(1);
      for (const s of racing) {
        if (s.status === 'rejected') {
          expect(s.reason).toBeInstanceOf(NoctriaError);
          expect((s.reason as NoctriaError).id).toBe(ArtifactErrorIds.Exists);
        }
      }
      const winner = winners[0]!;
      expect(winner.ref.sha256).toBe(sha256Hex(payloads[winner.i]!));
      expect(Buffer.from(await ctx.second.get(winner.ref)).toString()).toBe(payloads[winner.i]);
      expect(await store.stat('datasets', 'contested')).toEqual(winner.ref);
    }, 60_000);

    it('a failing input stream fails the put with its own error and stores nothing', async () => {
      const boom = new Error('source failed');
      const failing = (async function* () {
        yield new Uint8Array(300_000).fill(1);
        throw boom;
      })();
      await expect(store.put('datasets', 'half', failing)).rejects.toBe(boom);
      expect(await store.stat('datasets', 'half')).toBeNull();
      const ok = await store.put('datasets', 'half', enc('complete'));
      expect(Buffer.from(await store.get(ok)).toString()).toBe('complete');
    });

    it('close() waits for an in-flight put, then refuses new calls with CORE_ARTIFACT_CLOSED', async () => {
      const g = gate();
      const slow = (async function* () {
        yield enc('first half, ');
        await g.promise;
        yield enc('second half');
      })();
      const putting = store.put('reports', 'slow', slow);
      await turns(5);
      let closed = false;
      const closing = store.close().then(() => {
        closed = true;
      });
      await turns(10);
      expect(closed).toBe(false);
      g.open();
      const ref = await putting;
      await closing;
      expect(closed).toBe(true);
      expect(ref.sha256).toBe(sha256Hex('first half, second half'));
      await expectArtifactError(store.put('reports', 'late', enc('x')), ArtifactErrorIds.Closed);
      await expectArtifactError(store.get(ref), ArtifactErrorIds.Closed);
      await expectArtifactError(store.list('reports'), ArtifactErrorIds.Closed);
      await store.close();
      expect(Buffer.from(await ctx.second.get(ref)).toString()).toBe('first half, second half');
    });
  });
}
