/*
 * ionw.h: binary Ion's primitives (Ion 1.0, CONTRACT §8): type descriptors, VarUInts and the
 * representation of numbers, written into room the caller reserved. The pg_emit Ion writer and
 * the profile writer's direct call-tree path both use them, so there is one encoding of each.
 * Inline: a profile puts several of them per node.
 */
#ifndef PG_IONW_H
#define PG_IONW_H

#include "profgate/common.h"

#include <string.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { PG_ION_BOOL = 0x1, PG_ION_POSINT = 0x2, PG_ION_NEGINT = 0x3, PG_ION_FLOAT = 0x4, PG_ION_STRING = 0x8,
       PG_ION_LIST = 0xB, PG_ION_STRUCT = 0xD, PG_ION_ANNOT = 0xE };

/* System symbols: 3 = $ion_symbol_table, 7 = symbols. Local symbols start at 10. */
#define PG_ION_SID_SYMBOL_TABLE 3
#define PG_ION_SID_SYMBOLS 7
#define PG_ION_SID_LOCAL_BASE 10

/* The most bytes a type descriptor with its length, or a number's whole value, takes. */
#define PG_ION_TD_MAX 11
#define PG_ION_NUM_MAX 9

/** A VarUInt's bytes: 7 bits each (from the bit length, without a loop: measuring calls this
 *  for every symbol and length of a tree). */
static inline size_t pg_ion_varuint_len(uint64_t v)
{
    return v < 0x80 ? 1 : (size_t)(63 - __builtin_clzll(v)) / 7 + 1;
}

/** A VarUInt at o (the last byte carries the end bit); the end. */
static inline char *pg_ion_varuint_put(char *o, uint64_t v)
{
    /* Symbols and lengths are mostly one or two bytes: those without the loop. */
    if (v < 0x80) {
        o[0] = (char)(v | 0x80);
        return o + 1;
    }
    if (v < 0x4000) {
        o[0] = (char)(v >> 7);
        o[1] = (char)((v & 0x7f) | 0x80);
        return o + 2;
    }
    /* Written last byte first, until v runs out (at least three bytes here). Counting down an
     * index from pg_ion_varuint_len instead made gcc 12 at -O3 see a write before o
     * (-Wstringop-overflow) when it inlined this into a caller with a small array. */
    char *e = o + pg_ion_varuint_len(v), *p = e;
    unsigned char end = 0x80;
    do {
        *--p = (char)((v & 0x7f) | end);
        end = 0;
        v >>= 7;
    } while (v);
    return e;
}

/** The whole size of a value whose representation (after the type descriptor) is len bytes. */
static inline size_t pg_ion_size(size_t len)
{
    return 1 + (len < 14 ? 0 : pg_ion_varuint_len(len)) + len;
}

/** A type descriptor with its length: in the low nibble when short, else 14 and a VarUInt. */
static inline char *pg_ion_td_put(char *o, int type, size_t len)
{
    *o++ = (char)(unsigned char)(type << 4 | (len < 14 ? len : 14));
    return len < 14 ? o : pg_ion_varuint_put(o, len);
}

/** Big-endian magnitude bytes of an int (none for zero) and its type; the count. */
static inline size_t pg_ion_int_mag(int64_t v, int *type, unsigned char be[8])
{
    uint64_t mag = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1)) + 1;
    *type = v >= 0 ? PG_ION_POSINT : PG_ION_NEGINT;
    size_t n = 0;
    for (uint64_t m = mag; m != 0; m >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[n - 1 - i] = (unsigned char)(mag >> (8 * i));
    return n;
}

/** An int's whole value at o, which has PG_ION_NUM_MAX bytes of room (all of them may be
 *  written); the end. */
static inline char *pg_ion_int_put(char *o, int64_t v)
{
    uint64_t mag = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1)) + 1;
    int type = v >= 0 ? PG_ION_POSINT : PG_ION_NEGINT;
    if (mag == 0) {
        *o = (char)(unsigned char)(type << 4);
        return o + 1;
    }
    /* The magnitude's bytes, big-endian, by one byte swap and one 8-byte store: the bytes past
     * its n are junk the next value overwrites (a byte loop here was a tenth of the Ion writer). */
    size_t n = (size_t)(71 - __builtin_clzll(mag)) / 8;
    *o++ = (char)(unsigned char)(type << 4 | n);
    uint64_t be = __builtin_bswap64(mag << (8 * (8 - n)));
    memcpy(o, &be, 8);
    return o + n;
}

/** An int's whole size. */
static inline size_t pg_ion_int_size(int64_t v)
{
    uint64_t mag = v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1)) + 1;
    return 1 + (mag == 0 ? 0 : (size_t)(71 - __builtin_clzll(mag)) / 8);
}

/*
 * Writing backwards: o is the start of what is written so far; each call puts one piece just
 * before it and returns the piece's start. The profile writer puts its call tree this way, last
 * node first, so that a container's length is known when its head is put (Ion puts lengths before
 * contents). The caller keeps PG_ION_TD_MAX bytes of room before o for a head and PG_ION_NUM_MAX
 * for a number (all of which may be written).
 */

/** A VarUInt ending at o. */
static inline char *pg_ion_varuint_back(char *o, uint64_t v)
{
    if (v < 0x80) {
        *--o = (char)(v | 0x80);
        return o;
    }
    /* Two bytes: most of a tree's name symbols and container lengths. Spelled out, since going
     * through the length and pg_ion_varuint_put tested the same bounds again (instructions per
     * node are what the tree pass spends: it runs at 4 or more per cycle). */
    if (v < 0x4000) {
        o -= 2;
        o[0] = (char)(v >> 7);
        o[1] = (char)((v & 0x7f) | 0x80);
        return o;
    }
    o -= pg_ion_varuint_len(v);
    pg_ion_varuint_put(o, v);
    return o;
}

/** A type descriptor with its length, ending at o. */
static inline char *pg_ion_td_back(char *o, int type, size_t len)
{
    if (len >= 14)
        o = pg_ion_varuint_back(o, len);
    *--o = (char)(unsigned char)(type << 4 | (len < 14 ? len : 14));
    return o;
}

/** An int of magnitude mag and the sign type gives (PG_ION_POSINT for zero) ending at o. */
static inline char *pg_ion_mag_back(char *o, uint64_t mag, int type)
{
    size_t n = mag == 0 ? 0 : (size_t)(71 - __builtin_clzll(mag)) / 8;
    /* All 8 bytes big-endian in one store: the magnitude is the last n, the rest is room the
     * next piece overwrites. */
    uint64_t be = __builtin_bswap64(mag);
    memcpy(o - 8, &be, 8);
    o -= n;
    *--o = (char)(unsigned char)(type << 4 | n);
    return o;
}

/** v's magnitude when v is a whole number from 0 to 2^53 (-0 included): a profile's usual count,
 *  written as a positive int. False for anything else (negative, fractional, larger, NaN), which
 *  takes the general path. Few instructions, since the tree pass asks it of every count. */
static inline bool pg_ion_count_mag(double v, uint64_t *mag)
{
#if defined(__x86_64__) && defined(__SSE2__)
    /* cvttsd2si gives INT64_MIN for NaN and whatever is out of range (defined, unlike C's cast),
     * which the one unsigned compare below turns away with the negatives. */
    int64_t i = _mm_cvttsd_si64(_mm_set_sd(v));
#else
    if (!(v >= 0 && v <= 9007199254740992.0))
        return false;
    int64_t i = (int64_t)v;
#endif
    *mag = (uint64_t)i;
    return (uint64_t)i <= (UINT64_C(1) << 53) && (double)i == v;
}

/** An int's whole value ending at o. */
static inline char *pg_ion_int_back(char *o, int64_t v)
{
    return pg_ion_mag_back(o, v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1)) + 1, v >= 0 ? PG_ION_POSINT : PG_ION_NEGINT);
}

/** A float's 8 bytes, big-endian. */
static inline void pg_ion_float_be(double v, unsigned char be[8])
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)(bits >> (56 - 8 * i));
}

#endif
