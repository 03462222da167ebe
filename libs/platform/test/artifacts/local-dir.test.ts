import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ArtifactErrorIds, artifactRoot, LocalDirArtifactStore, type ArtifactRef } from '../../src/index.js';
import { enc } from '../bus/helpers.js';
import { expectArtifactError, runArtifactContract, sha256Hex } from './artifact.contract.js';

function tempRoot(): string {
  return mkdtempSync(join(tmpdir(), 'noctria-artifacts-'));
}

runArtifactContract('LocalDirArtifactStore', 'local', async () => {
  const root = tempRoot();
  const store = new LocalDirArtifactStore({ root, readChunkBytes: 256 * 1024 });
  const second = new LocalDirArtifactStore({ root });
  return {
    store,
    second,
    async corruptStored(ref: ArtifactRef) {
      const path = (await store.blobPath(ref.bucket, ref.name))!;
      const bytes = await readFile(path);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
      await writeFile(path, bytes);
    },
    async replaceOutOfBand(ref: ArtifactRef, data: Uint8Array) {
      // A foreign writer that rewrites the file in place instead of committing a new object.
      await writeFile((await store.blobPath(ref.bucket, ref.name))!, data);
    },
    async cleanup() {
      await store.close();
      await second.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('LocalDirArtifactStore specifics', () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });
  const fresh = (): { root: string; store: LocalDirArtifactStore } => {
    const root = tempRoot();
    roots.push(root);
    return { root, store: new LocalDirArtifactStore({ root }) };
  };

  it('keeps one blob per live object: no temp files after commits, old blobs removed on overwrite and delete', async () => {
    const { root, store } = fresh();
    await store.put('models', 'a/b/c.bin', enc('one'));
    await store.put('models', 'x', enc('two'));
    await store.put('models', 'x', enc('two'));
    await store.put('models', 'x', enc('three'), { overwrite: true });
    expect((await readdir(join(root, 'models', 'meta'))).sort()).toEqual(['a%b%c.bin.json', 'x.json']);
    expect(await readdir(join(root, 'models', 'blobs'))).toHaveLength(2);
    expect(await store.delete('models', 'a/b/c.bin')).toBe(true);
    const blobs = await readdir(join(root, 'models', 'blobs'));
    expect(blobs).toHaveLength(1);
    expect(sha256Hex(await readFile(join(root, 'models', 'blobs', blobs[0]!)))).toBe(sha256Hex('three'));
    expect(await store.blobPath('models', 'x')).toBe(join(root, 'models', 'blobs', blobs[0]!));
  });

  it('a failed put leaves no blob; a blob without meta (crash before commit) is invisible', async () => {
    const { root, store } = fresh();
    await store.put('datasets', 'keep', enc('kept'));
    const failing = (async function* () {
      yield enc('partial');
      throw new Error('gone');
    })();
    await expect(store.put('datasets', 'lost', failing)).rejects.toThrow('gone');
    expect(await readdir(join(root, 'datasets', 'blobs'))).toHaveLength(1);
    await writeFile(join(root, 'datasets', 'blobs', '00000000-0000-4000-8000-000000000000'), 'orphan');
    await writeFile(join(root, 'datasets', 'meta', '.00000000-0000-4000-8000-000000000000.tmp'), '{"half":');
    expect((await store.list('datasets')).map((r) => r.name)).toEqual(['keep']);
    expect(await store.stat('datasets', 'lost')).toBeNull();
  });

  it('a refused put (different bytes) writes nothing', async () => {
    const { root, store } = fresh();
    await store.put('models', 'm', enc('v1'));
    await expectArtifactError(store.put('models', 'm', enc('v2')), ArtifactErrorIds.Exists);
    expect(await readdir(join(root, 'models', 'blobs'))).toHaveLength(1);
    expect(await readdir(join(root, 'models', 'meta'))).toEqual(['m.json']);
  });

  it('reports unreadable metadata as CORE_ARTIFACT_STORAGE instead of treating the object as absent', async () => {
    const { store } = fresh();
    await store.put('models', 'm', enc('v1'));
    await writeFile(store.metaPath('models', 'm'), '{not json');
    await expectArtifactError(store.stat('models', 'm'), ArtifactErrorIds.Storage);
    await expectArtifactError(store.put('models', 'm', enc('v1')), ArtifactErrorIds.Storage);
  });

  it('embedded root: <NOCTRIA_DATA_DIR>/artifacts/store, apart from the ingest export tree; NOCTRIA_ARTIFACT_DIR overrides', () => {
    expect(artifactRoot({ NOCTRIA_DATA_DIR: '/data' })).toBe(join('/data', 'artifacts', 'store'));
    expect(artifactRoot({ NOCTRIA_DATA_DIR: '/data', NOCTRIA_ARTIFACT_DIR: '/elsewhere' })).toBe('/elsewhere');
  });
});
