// Package rdb encodes and decodes one value in Redis's DUMP payload format,
// so that cached and redis-server exchange values with DUMP and RESTORE and
// nodes can ship keys between them.
//
// # Format
//
// A payload is the RDB object type byte, the value in RDB encoding, the RDB
// version (2 bytes, little endian) and Redis's CRC-64 of all that (8 bytes,
// little endian). AppendValue writes what redis-server 7.0 writes (RDB
// version 10): strings (integers of up to 32 bits as RDB integers), lists as
// QUICKLIST_2 of 8 KB listpack nodes, intsets as SET_INTSET and other sets
// as SET, small sorted sets as ZSET_LISTPACK and big ones as ZSET_2 (binary
// scores), small hashes as HASH_LISTPACK and big ones as HASH. Like Redis
// it LZF-compresses a string (listpack nodes included) longer than 20 bytes
// when that saves more than 4 bytes; its match finder is its own, so a
// compressed string can differ in bytes from redis-server's (both read it).
//
// Decode reads all of that, LZF-compressed strings and listpack nodes, plain
// quicklist nodes, the encodings older Redis versions wrote (LIST, ZSET with
// text scores, the ziplist types 10, 12, 13 and 14, QUICKLIST of ziplists)
// and Redis 7.2's SET_LISTPACK, and rebuilds the value in cached's own
// encodings (store/hash, store/list, store/set, store/zset), which convert
// past their thresholds as Redis's do. It validates every byte (Redis 7.0
// does so only with sanitize-dump-payload yes): a payload with duplicate or
// no elements, a NaN score, a malformed listpack or any length past its end
// is ErrBadFormat; it never panics, and it allocates at most a small
// multiple of the payload's size (a length is checked against the bytes
// left before anything is allocated for it).
//
// # Dependencies
//
// rdb imports store and its collection packages, never the other way round:
// store keeps values behind the store.Value interface and knows no byte
// format, the collection packages know neither store nor rdb. Key-level
// helpers (DumpKey, RestoreKey, Record) work on a held store.Tx.
package rdb
