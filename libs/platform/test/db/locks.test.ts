import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { waitFor } from '@noctria/testing';
import { isAdvisoryLockHeld, tryAdvisoryLock, withAdvisoryLock, withTransaction } from '../../src/db/index.js';
import { openTestDb, type OpenDb } from './fixtures.js';

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('advisory locks and transactions', () => {
  let t: OpenDb;
  beforeAll(async () => {
    t = await openTestDb('locks', {}, 8);
    await sql`create table counter (id int primary key, n int not null)`.execute(t.db);
    await sql`insert into counter values (1, 0)`.execute(t.db);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('withAdvisoryLock serialises holders of the same key', async () => {
    let inside = 0;
    let maxInside = 0;
    const order: string[] = [];
    const first = gate();
    const a = withAdvisoryLock(t.db, 'test.retention', async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      order.push('a-start');
      await first.wait;
      order.push('a-end');
      inside--;
    });
    await waitFor(() => isAdvisoryLockHeld(t.db, 'test.retention'), { message: 'lock a taken' });
    const b = withAdvisoryLock(t.db, 'test.retention', async () => {
      inside++;
      maxInside = Math.max(maxInside, inside);
      order.push('b');
      inside--;
    });
    // b is waiting on the server for the lock (visible as an ungranted advisory lock).
    await waitFor(
      async () => (await sql<{ n: number }>`select count(*) as n from pg_locks where locktype = 'advisory' and not granted`.execute(t.db)).rows[0]?.n === 1,
      { message: 'b waiting for the lock' },
    );
    expect(order).toEqual(['a-start']);
    first.open();
    await Promise.all([a, b]);
    expect(order).toEqual(['a-start', 'a-end', 'b']);
    expect(maxInside).toBe(1);
    expect(await isAdvisoryLockHeld(t.db, 'test.retention')).toBe(false);
  });

  it('tryAdvisoryLock does not wait while another session holds the lock', async () => {
    const held = gate();
    const entered = gate();
    const holder = withAdvisoryLock(t.db, 'test.once', async () => {
      entered.open();
      await held.wait;
      return 'holder';
    });
    await entered.wait;
    expect(await tryAdvisoryLock(t.db, 'test.once', async () => 'second')).toEqual({ acquired: false });
    held.open();
    expect(await holder).toBe('holder');
    expect(await tryAdvisoryLock(t.db, 'test.once', async () => 'second')).toEqual({ acquired: true, value: 'second' });
  });

  it('releases the lock when the function throws, and honours timeoutMs', async () => {
    await expect(withAdvisoryLock(t.db, 'test.throw', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await isAdvisoryLockHeld(t.db, 'test.throw')).toBe(false);

    const held = gate();
    const entered = gate();
    const holder = withAdvisoryLock(t.db, 'test.timeout', async () => {
      entered.open();
      await held.wait;
    });
    await entered.wait;
    await expect(withAdvisoryLock(t.db, 'test.timeout', async () => 'never', { timeoutMs: 100 })).rejects.toMatchObject({ code: '55P03' });
    held.open();
    await holder;
    // lock_timeout was reset on the connection that timed out.
    const r = await Promise.all([1, 2, 3, 4].map(() => sql<{ lt: string }>`select current_setting('lock_timeout') as lt`.execute(t.db)));
    expect(r.map((x) => x.rows[0]?.lt)).toEqual(['0', '0', '0', '0']);
  });

  it('withTransaction commits, rolls back, sets isolation and retries serialization failures', async () => {
    await withTransaction(t.db, async (trx) => {
      await sql`update counter set n = n + 1 where id = 1`.execute(trx);
    });
    await expect(
      withTransaction(t.db, async (trx) => {
        await sql`update counter set n = n + 100 where id = 1`.execute(trx);
        throw new Error('rollback please');
      }),
    ).rejects.toThrow('rollback please');
    const n = await sql<{ n: number }>`select n from counter where id = 1`.execute(t.db);
    expect(n.rows[0]?.n).toBe(1);

    const iso = await withTransaction(t.db, async (trx) => (await sql<{ i: string }>`select current_setting('transaction_isolation') as i`.execute(trx)).rows[0]?.i, {
      isolation: 'serializable',
    });
    expect(iso).toBe('serializable');

    let attempts = 0;
    const value = await withTransaction(
      t.db,
      async () => {
        attempts++;
        if (attempts < 3) throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        return 'ok';
      },
      { isolation: 'serializable', retries: 3 },
    );
    expect([value, attempts]).toEqual(['ok', 3]);
    attempts = 0;
    await expect(
      withTransaction(t.db, async () => {
        attempts++;
        throw Object.assign(new Error('unique'), { code: '23505' });
      }, { retries: 3 }),
    ).rejects.toThrow('unique');
    expect(attempts).toBe(1);
  });
});
