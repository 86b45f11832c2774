/**
 * The contract every ProgressStore passes (src/ledger/progress-store.ts).
 * Not a test file itself: each implementation's test calls
 * `progressStoreContract` and then adds its own cases (as
 * tus-node-server's lockerContract).
 *
 * Time is passed in (`now`), never slept on. Times start at the real clock
 * so a store that checks expiry against the wall clock when it reopens
 * agrees with the times used here.
 */
import type { Progress, ProgressStore } from '../src/ledger/progress-store.js';

export interface StoreOptions {
  ttlMs?: number;
  maxClients?: number;
}

export interface StoreUnderTest {
  store: ProgressStore;
  /** Opens the same ledger again after `store.close()`; omit for stores that do not persist. */
  reopen?: () => Promise<ProgressStore>;
  /** Releases everything (closing any store still open) after each test. */
  cleanup: () => Promise<void>;
}

export type MakeStore = (opts: StoreOptions) => Promise<StoreUnderTest>;

export interface ContractOptions {
  /**
   * What the store does with a client id that is not a canonical UUID (the
   * server only ever passes UUIDs: http/client-id.ts isClientId).
   * 'refused': createClient rejects with a TypeError whose code is
   * INVALID_CLIENT_ID (a programmer error), and such an id is unknown to
   * every other call. 'accepted': it is a client like any other.
   */
  nonUuidIds?: 'refused' | 'accepted';
}

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';
const D = '00000000-0000-4000-8000-00000000000d';
const E = '00000000-0000-4000-8000-00000000000e';

const V1 = { size: 1000, etag: '"v1"' };

export function progressStoreContract(name: string, makeStore: MakeStore, contract: ContractOptions = {}): void {
  const nonUuidIds = contract.nonUuidIds ?? 'accepted';
  describe(`ProgressStore contract: ${name}`, () => {
    let t0: number;
    let sut: StoreUnderTest | undefined;

    async function open(opts: StoreOptions = {}): Promise<StoreUnderTest> {
      sut = await makeStore(opts);
      return sut;
    }

    beforeEach(() => {
      t0 = Date.now();
    });

    afterEach(async () => {
      await sut?.cleanup();
      sut = undefined;
    });

    it('describes itself for logs', async () => {
      const { store } = await open();
      expect(typeof store.description).toBe('string');
      expect(store.description.length).toBeGreaterThan(0);
    });

    describe('clients', () => {
      it('a created client can be touched; an unknown one cannot', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        expect(await store.touchClient(A, t0 + 1)).toBe(true);
        expect(await store.touchClient(B, t0 + 1)).toBe(false);
        expect(await store.counts()).toEqual({ clients: 1, files: 0 });
      });

      it('touching an unknown client does not create it', async () => {
        const { store } = await open();
        expect(await store.touchClient(A, t0)).toBe(false);
        expect(await store.touchClient(A, t0)).toBe(false);
        expect(await store.counts()).toEqual({ clients: 0, files: 0 });
      });

      it('counts() counts clients and their files', async () => {
        const { store } = await open();
        expect(await store.counts()).toEqual({ clients: 0, files: 0 });
        await store.createClient(A, t0);
        await store.createClient(B, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        await store.beginTransfer(A, 'y', { offset: 0, ...V1 }, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        await store.beginTransfer(B, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.counts()).toEqual({ clients: 2, files: 3 });
      });
    });

    describe(`client ids that are not canonical UUIDs: ${nonUuidIds}`, () => {
      const odd = ['device-1', '', `${A}x`, A.replace(/-/g, ''), `{${A.slice(1, -1)}}`];

      if (nonUuidIds === 'refused') {
        it.each(odd)('createClient(%j) rejects with INVALID_CLIENT_ID, and the id stays unknown', async (id) => {
          const { store } = await open();
          await store.createClient(A, t0);
          const err = await store.createClient(id, t0).then(() => undefined, (e: unknown) => e);
          expect(err).toBeInstanceOf(TypeError);
          expect((err as { code?: string }).code).toBe('INVALID_CLIENT_ID');
          expect(await store.touchClient(id, t0)).toBe(false);
          expect(await store.beginTransfer(id, 'x', { offset: 0, ...V1 }, t0)).toBe(0);
          expect(await store.recordProgress(id, 'x', 1, 10, t0)).toBe(false);
          expect(await store.getProgress(id, 'x')).toBeUndefined();
          expect(await store.counts()).toEqual({ clients: 1, files: 0 });
        });
      } else {
        it.each(odd.filter((id) => id !== ''))('%j is a client like any other', async (id) => {
          const { store } = await open();
          await store.createClient(id, t0);
          expect(await store.touchClient(id, t0 + 1)).toBe(true);
          const ticket = await store.beginTransfer(id, 'x', { offset: 0, ...V1 }, t0 + 1);
          expect(await store.recordProgress(id, 'x', ticket, 10, t0 + 2)).toBe(true);
          expect(await store.getProgress(id, 'x')).toEqual({ offset: 10, ...V1, ticket });
        });
      }
    });

    describe('progress', () => {
      it('is undefined before any transfer, for known and unknown clients', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        expect(await store.getProgress(A, 'word.doc')).toBeUndefined();
        expect(await store.getProgress(B, 'word.doc')).toBeUndefined();
      });

      it('beginTransfer records the start and returns a ticket', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const ticket = await store.beginTransfer(A, 'word.doc', { offset: 10, size: 1000, etag: '"v1"' }, t0);
        expect(ticket).toBeGreaterThan(0);
        expect(await store.getProgress(A, 'word.doc')).toEqual({ offset: 10, size: 1000, etag: '"v1"', ticket });
      });

      it('tickets increase per (client, path)', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        await store.createClient(B, t0);
        const tickets: number[] = [];
        for (let i = 0; i < 5; i++) tickets.push(await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0 + i));
        for (let i = 1; i < tickets.length; i++) expect(tickets[i]!).toBeGreaterThan(tickets[i - 1]!);
        // other pairs have their own sequence and do not disturb this one
        expect(await store.beginTransfer(A, 'y', { offset: 0, ...V1 }, t0)).toBeGreaterThan(0);
        expect(await store.beginTransfer(B, 'x', { offset: 0, ...V1 }, t0)).toBeGreaterThan(0);
        expect(await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0 + 9)).toBeGreaterThan(tickets[4]!);
      });

      it('recordProgress with the current ticket moves the offset', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const ticket = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.recordProgress(A, 'x', ticket, 100, t0 + 1)).toBe(true);
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 100, ...V1, ticket });
        expect(await store.recordProgress(A, 'x', ticket, 1000, t0 + 2)).toBe(true);
        expect((await store.getProgress(A, 'x'))?.offset).toBe(1000);
      });

      it('an offset past the end is clamped to the size', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const ticket = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.recordProgress(A, 'x', ticket, 5000, t0 + 1)).toBe(true);
        expect((await store.getProgress(A, 'x'))?.offset).toBe(1000);
      });

      it('newer request wins: an older ticket can no longer move the entry', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const zombie = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.recordProgress(A, 'x', zombie, 300, t0 + 1)).toBe(true);
        // the device reconnects and resumes at 300; the old connection lingers
        const current = await store.beginTransfer(A, 'x', { offset: 300, ...V1 }, t0 + 2);
        expect(await store.recordProgress(A, 'x', zombie, 900, t0 + 3)).toBe(false);
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 300, ...V1, ticket: current });
        expect(await store.recordProgress(A, 'x', current, 400, t0 + 4)).toBe(true);
        expect(await store.recordProgress(A, 'x', zombie, 999, t0 + 5)).toBe(false);
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 400, ...V1, ticket: current });
      });

      it('a ticket that was never issued moves nothing', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const ticket = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.recordProgress(A, 'x', ticket + 1, 500, t0 + 1)).toBe(false);
        expect(await store.recordProgress(A, 'y', ticket, 500, t0 + 1)).toBe(false);
        expect((await store.getProgress(A, 'x'))?.offset).toBe(0);
        expect(await store.getProgress(A, 'y')).toBeUndefined();
      });

      it('a new transfer of a new version replaces size and etag', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const t1 = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        await store.recordProgress(A, 'x', t1, 700, t0 + 1);
        const t2 = await store.beginTransfer(A, 'x', { offset: 0, size: 50, etag: '"v2"' }, t0 + 2);
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 0, size: 50, etag: '"v2"', ticket: t2 });
      });

      it('unknown clients get no progress', async () => {
        const { store } = await open();
        const ticket = await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.recordProgress(A, 'x', ticket, 10, t0)).toBe(false);
        expect(await store.getProgress(A, 'x')).toBeUndefined();
        expect(await store.counts()).toEqual({ clients: 0, files: 0 });
      });

      it('keeps many files per client apart, and clients apart', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        await store.createClient(B, t0);
        const paths = ['a.bin', 'dir/a.bin', 'dir/sub/a.bin', 'caf\u00e9.txt', 'x'.repeat(200)];
        const tickets = new Map<string, number>();
        for (const [i, p] of paths.entries()) {
          const t = await store.beginTransfer(A, p, { offset: 0, ...V1 }, t0);
          tickets.set(p, t);
          await store.recordProgress(A, p, t, i * 100 + 1, t0 + 1);
        }
        const tb = await store.beginTransfer(B, 'a.bin', { offset: 0, ...V1 }, t0);
        await store.recordProgress(B, 'a.bin', tb, 999, t0 + 1);
        for (const [i, p] of paths.entries()) {
          expect(await store.getProgress(A, p)).toEqual({ offset: i * 100 + 1, ...V1, ticket: tickets.get(p) });
        }
        expect((await store.getProgress(B, 'a.bin'))?.offset).toBe(999);
        expect(await store.getProgress(B, 'dir/a.bin')).toBeUndefined();
        expect(await store.counts()).toEqual({ clients: 2, files: paths.length + 1 });
      });

      it('getProgress returns a copy', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        const ticket = await store.beginTransfer(A, 'x', { offset: 5, ...V1 }, t0);
        const got = (await store.getProgress(A, 'x')) as Progress;
        got.offset = 999;
        got.ticket = 0;
        got.etag = '"evil"';
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 5, ...V1, ticket });
        expect(await store.recordProgress(A, 'x', ticket, 6, t0)).toBe(true);
        expect(got.offset).toBe(999);
      });
    });

    describe('expiry (ttlMs = 1000)', () => {
      it('touch: alive up to the TTL, forgotten after it', async () => {
        const { store } = await open({ ttlMs: 1000 });
        await store.createClient(A, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.touchClient(A, t0 + 1000)).toBe(true);
        // the touch moved lastSeen: 1000 ms from t0 + 1000 is still alive
        expect(await store.touchClient(A, t0 + 2000)).toBe(true);
        expect(await store.touchClient(A, t0 + 3001)).toBe(false);
        // forgotten, with its files; an earlier clock does not bring it back
        expect(await store.touchClient(A, t0 + 2500)).toBe(false);
        expect(await store.getProgress(A, 'x')).toBeUndefined();
        expect(await store.counts()).toEqual({ clients: 0, files: 0 });
      });

      it('sweep forgets only the clients idle longer than the TTL', async () => {
        const { store } = await open({ ttlMs: 1000 });
        await store.createClient(A, t0);
        await store.createClient(B, t0 + 600);
        await store.createClient(C, t0 + 700);
        await store.touchClient(C, t0 + 900);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        expect(await store.sweep(t0 + 1000)).toBe(0);
        expect(await store.counts()).toEqual({ clients: 3, files: 1 });
        expect(await store.sweep(t0 + 1001)).toBe(1);
        expect(await store.counts()).toEqual({ clients: 2, files: 0 });
        expect(await store.getProgress(A, 'x')).toBeUndefined();
        expect(await store.sweep(t0 + 1601)).toBe(1);
        expect(await store.touchClient(B, t0 + 1601)).toBe(false);
        expect(await store.touchClient(C, t0 + 1601)).toBe(true);
        expect(await store.sweep(t0 + 2601)).toBe(0);
        expect(await store.sweep(t0 + 2602)).toBe(1);
        expect(await store.counts()).toEqual({ clients: 0, files: 0 });
      });
    });

    describe('eviction (maxClients = 3)', () => {
      it('creating one more client evicts the least recently seen never-used client, not a paused download', async () => {
        const { store } = await open({ maxClients: 3 });
        await store.createClient(A, t0);
        await store.createClient(B, t0 + 1);
        await store.createClient(C, t0 + 2);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0 + 3);
        await store.createClient(D, t0 + 4);
        // A is the least recently seen, but it has a paused download: B goes.
        expect(await store.counts()).toEqual({ clients: 3, files: 1 });
        expect(await store.touchClient(B, t0 + 5)).toBe(false);
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 0, ...V1, ticket: 1 });
        for (const id of [A, C, D]) expect(await store.touchClient(id, t0 + 5)).toBe(true);
      });

      it('a flood of new ids cannot evict paused downloads while never-used ids remain', async () => {
        const { store } = await open({ maxClients: 3 });
        await store.createClient(A, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0 + 1);
        for (let i = 0; i < 50; i++) await store.createClient(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, t0 + 2 + i);
        expect(await store.counts()).toEqual({ clients: 3, files: 1 });
        expect(await store.getProgress(A, 'x')).toEqual({ offset: 0, ...V1, ticket: 1 });
      });

      it('when every client has a download, the least recently seen one is evicted, with its files', async () => {
        const { store } = await open({ maxClients: 2 });
        await store.createClient(A, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0 + 1);
        await store.createClient(B, t0 + 2);
        await store.beginTransfer(B, 'x', { offset: 0, ...V1 }, t0 + 3);
        await store.createClient(C, t0 + 4);
        expect(await store.counts()).toEqual({ clients: 2, files: 1 });
        expect(await store.touchClient(A, t0 + 5)).toBe(false);
        expect(await store.getProgress(A, 'x')).toBeUndefined();
        for (const id of [B, C]) expect(await store.touchClient(id, t0 + 5)).toBe(true);
      });

      it('a touch makes a client the most recently seen', async () => {
        const { store } = await open({ maxClients: 3 });
        await store.createClient(A, t0);
        await store.createClient(B, t0 + 1);
        await store.createClient(C, t0 + 2);
        await store.touchClient(A, t0 + 3);
        await store.createClient(D, t0 + 4);
        expect(await store.touchClient(B, t0 + 5)).toBe(false);
        await store.createClient(E, t0 + 6);
        expect(await store.touchClient(C, t0 + 7)).toBe(false);
        for (const id of [A, D, E]) expect(await store.touchClient(id, t0 + 8)).toBe(true);
      });
    });

    // With `reopen`, the checks run on the reopened store; without it, on the
    // same store (the scenario still has to hold while the process lives).
    async function afterRestart(u: StoreUnderTest): Promise<ProgressStore> {
      if (!u.reopen) return u.store;
      await u.store.close();
      return u.reopen();
    }

    describe('close / reopen', () => {
      it('everything recorded before close is still there', async () => {
        const u = await open();
        const { store } = u;
        await store.createClient(A, t0);
        await store.createClient(B, t0 + 1);
        const ta = await store.beginTransfer(A, 'dir/word.doc', { offset: 0, ...V1 }, t0 + 2);
        await store.recordProgress(A, 'dir/word.doc', ta, 123, t0 + 3);
        await store.beginTransfer(B, 'x', { offset: 0, size: 10, etag: '"b"' }, t0 + 4);
        const tb = await store.beginTransfer(B, 'x', { offset: 5, size: 10, etag: '"b"' }, t0 + 5);
        await store.recordProgress(B, 'x', tb, 10, t0 + 6);
        // the last write right before close is not lost to batching
        await store.recordProgress(A, 'dir/word.doc', ta, 456, t0 + 7);

        const again = await afterRestart(u);
        expect(await again.counts()).toEqual({ clients: 2, files: 2 });
        expect(await again.getProgress(A, 'dir/word.doc')).toEqual({ offset: 456, ...V1, ticket: ta });
        expect(await again.getProgress(B, 'x')).toEqual({ offset: 10, size: 10, etag: '"b"', ticket: tb });
        // tickets keep increasing across the restart, and still gate progress
        const next = await again.beginTransfer(B, 'x', { offset: 10, size: 10, etag: '"b"' }, t0 + 8);
        expect(next).toBeGreaterThan(tb);
        expect(await again.recordProgress(B, 'x', tb, 1, t0 + 9)).toBe(false);
        expect(await again.touchClient(A, t0 + 10)).toBe(true);
        expect(await again.touchClient(C, t0 + 10)).toBe(false);
      });

      it('the least-recently-seen order survives', async () => {
        const u = await open({ maxClients: 3 });
        const { store } = u;
        await store.createClient(A, t0);
        await store.createClient(B, t0 + 1);
        await store.createClient(C, t0 + 2);
        // touches in quick succession; recency afterwards: C, B, A (A most recent)
        await store.touchClient(A, t0 + 3);
        await store.touchClient(B, t0 + 4);
        await store.touchClient(A, t0 + 5);

        const again = await afterRestart(u);
        await again.createClient(D, t0 + 6);
        await again.createClient(E, t0 + 7);
        // C and then B were the least recently seen
        expect(await again.touchClient(C, t0 + 8)).toBe(false);
        expect(await again.touchClient(B, t0 + 8)).toBe(false);
        expect(await again.touchClient(A, t0 + 8)).toBe(true);
      });

      it('creating an existing id replaces it: its files are forgotten, after a restart too', async () => {
        const u = await open();
        const { store } = u;
        await store.createClient(A, t0);
        await store.beginTransfer(A, 'x', { offset: 0, ...V1 }, t0);
        await store.createClient(A, t0 + 1);
        expect(await store.getProgress(A, 'x')).toBeUndefined();
        const again = await afterRestart(u);
        expect(await again.counts()).toEqual({ clients: 1, files: 0 });
        expect(await again.getProgress(A, 'x')).toBeUndefined();
      });

      it('close resolves and can be called twice', async () => {
        const { store } = await open();
        await store.createClient(A, t0);
        await expect(store.close()).resolves.toBeUndefined();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}
