// Package store owns the data of a cached node: keys and their typed values,
// TTLs, access times, memory accounting, eviction under maxmemory and per-slot
// key counts. It knows nothing of sockets, RESP or the cluster.
//
// # Layout
//
// The key space is split into a power-of-two number of shards chosen by the
// xxhash of the key bytes (not of the database), each with one mutex. A
// shard keeps pointer-free 16-byte records (item handle; access field, type
// and TTL flag; two slot-list links) in 1024-record chunks, each chunk
// holding one database's records so that a record need not name its
// database (chunks.go; record numbers never move, which is what makes
// Scan's guarantee cheap), an open-addressing index of uint64 words (32-bit
// hash tag | record number) with linear probing and backward-shift
// deletion, 64-80% full (index.go), and a dense slice of the records that
// carry a TTL (for O(1) removal and sampling by the active expirer and the
// volatile-* policies). A record's 28-bit access field holds its last
// access on a 1/16 s LRU clock (wrapping every 194 days, as Redis's does;
// the active expirer's sweep clamps idle times to 97 days before they can
// wrap) or,
// under an LFU policy, Redis's LFU counter and minutes stamp (lfu.go). LRU and LFU eviction are approximated as Redis
// does them: keys are sampled (runs of neighbouring records) into a small
// per-shard pool of candidates and the pool's oldest (least used) is
// evicted once checked unchanged (evict.go); no per-key list is kept.
//
// A key's length (uvarint), key and, for strings, value bytes are packed in
// one item of the shard's slab allocator (slab.go): pointer-free byte slabs
// of up to 256 KiB (1 MiB for items above 32 KiB) carved into 120 size
// classes, 2 bytes apart up to 64 bytes and ~8% apart above (sizeclass.go); items of 128 KiB or more get their own
// []byte. The item, not the record, keeps the packed bytes' length (one
// header byte in a slab item). A record refers to its item by a
// 32-bit handle (slab number, item number). The slabs, the record chunks
// (all but a shard's first) and indexes of 64 KiB or more are mapped off
// the Go heap (arena.go): the collector neither marks nor counts them, the
// heap holds only request garbage and small structures, and a dropped slab
// or outgrown index is unmapped at once. Collection
// objects live in per-shard chunks of slots (objtab.go) whose number is the
// 4-byte value in the key's item, so strings pay nothing for them.
//
// UsedMemory (and MEMORY USAGE) counts per key its record, its amortized
// index slot and its item's class size (a large value's capacity), plus TTL
// and collection costs. Free items and the unused part of slabs are not in
// it, as Redis's used_memory leaves out allocator fragmentation; a server
// that owns the process counts them through the live heap and
// OffHeapBytes (SetOverhead) but for the freed records (RecordFreedBytes)
// and the newest slabs' and chunks' untouched tails (UnwrittenBytes), and
// the free items and the spare slabs as they are at each check
// (SetCountSlabFreed: SlabFreedBytes, SlabIdleBytes).
// Compaction (CompactSlabs) takes sparse slabs back. Bytes handed back to
// the Go heap are counted by ReleasedBytes; unmapped bytes leave
// OffHeapBytes at once.
//
// # Slices into the store
//
// Off-heap memory is unmapped when dropped, so a slice of key or value
// bytes the store hands out (Entry.Str, the key of a Scan, ForEachInSlots
// or SnapshotSlot callback) is valid only while the shard lock is held:
// keeping it past Unlock is a fault, not a stale read. Copy what must
// outlive the lock; only a large value may be lent past it (PinStr).
//
// A large value's buffer can be pinned (Entry.PinStr): a replication
// snapshot reads it after Unlock while writes that would change it in place
// copy it first, and large buffers are never reused (largepin.go).
//
// Collection objects implement Value (length, size, encoding, clone); their
// binary form, Redis's DUMP payload, is store/rdb's, which imports this
// package and never the other way round.
//
// Logical databases map to physical ones through an indirection, so SWAPDB is
// O(1) once every shard is locked.
//
// # Usage
//
// Single-key string commands use the fast paths Store.Get and Store.Set.
// Everything else locks the shards of its keys with Store.Lock, works through
// the returned Tx and calls Tx.Unlock. Before a write command the caller
// calls Store.FreeMemory (or FreeMemoryFor) without holding a Tx.
//
// # Callbacks
//
// Config.OnEvent runs synchronously on the goroutine that expires or evicts a
// key, with that key's shard lock held: it must not block and must not call
// back into the Store.
package store
