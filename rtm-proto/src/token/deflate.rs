//! A small zlib-format compressor that reproduces the output of zlib's
//! `compress()` at the default level (6) byte for byte.
//!
//! Why this exists: Agora's Python and C++ builders compress AccessToken2
//! ("007") payloads with the C zlib library at its default level (the Go
//! builder uses Go's own compressor and produces different bytes). Verification
//! only needs a decompressor, but [`super::build_v007`] promises tokens that are
//! byte-identical to Agora's Python `RtmTokenBuilder2`, and the pure-Rust
//! deflate backend available to this crate (miniz_oxide) makes different
//! block-type and match choices. So this module re-implements, for a single
//! block, exactly the algorithms of zlib 1.2.x `deflate.c` (`deflate_slow`,
//! `longest_match`, level 6 parameters) and `trees.c` (`build_tree`,
//! `gen_bitlen`, `gen_codes`, `scan_tree`, `send_tree`, `_tr_flush_block`).
//!
//! Scope: inputs of at most [`MAX_EXACT_INPUT`] bytes, which zlib always
//! emits as one block inside one window (an RTM token payload is ~100–300
//! bytes). Larger inputs return `None` and the caller falls back to flate2.
//!
//! The code never panics: all window/tree accesses go through bounds-checked
//! helpers that degrade to zero, and every arithmetic step is on values
//! bounded by the input-size limit.

/// Largest input handled here. zlib starts a second block once 16383 symbols
/// are buffered (`lit_bufsize - 1` with memLevel 8); staying below that (and
/// far below the 32 KiB window) keeps the output a single final block.
pub(crate) const MAX_EXACT_INPUT: usize = 16_000;

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
const MIN_LOOKAHEAD: usize = MAX_MATCH + MIN_MATCH + 1;
const W_SIZE: usize = 1 << 15;
const W_MASK: usize = W_SIZE - 1;
const MAX_DIST: usize = W_SIZE - MIN_LOOKAHEAD;
const HASH_SIZE: usize = 1 << 15; // memLevel 8 => hash_bits 15
const HASH_MASK: usize = HASH_SIZE - 1;
const HASH_SHIFT: u32 = 5; // (hash_bits + MIN_MATCH - 1) / MIN_MATCH
const TOO_FAR: usize = 4096;
const NIL: usize = 0;

// configuration_table[6] = {8, 16, 128, 128, deflate_slow}
const GOOD_LENGTH: usize = 8;
const MAX_LAZY: usize = 16;
const NICE_LENGTH: usize = 128;
const MAX_CHAIN: usize = 128;

const LITERALS: usize = 256;
const END_BLOCK: usize = 256;
const LENGTH_CODES: usize = 29;
const L_CODES: usize = LITERALS + 1 + LENGTH_CODES;
const D_CODES: usize = 30;
const BL_CODES: usize = 19;
const HEAP_SIZE: usize = 2 * L_CODES + 1;
const MAX_BITS: usize = 15;
const MAX_BL_BITS: usize = 7;
const REP_3_6: usize = 16;
const REPZ_3_10: usize = 17;
const REPZ_11_138: usize = 18;

const EXTRA_LBITS: [u8; LENGTH_CODES] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const EXTRA_DBITS: [u8; D_CODES] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const EXTRA_BLBITS: [u8; BL_CODES] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const BL_ORDER: [usize; BL_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];
const BASE_LENGTH: [u16; LENGTH_CODES] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 0,
];
const BASE_DIST: [u16; D_CODES] = [
    0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
    2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
];

/// Compress `input` into a zlib stream identical to zlib's
/// `compress2(..., Z_DEFAULT_COMPRESSION)` (Python `zlib.compress(data)`).
/// Returns `None` when `input` is longer than [`MAX_EXACT_INPUT`].
pub(crate) fn compress(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() > MAX_EXACT_INPUT {
        return None;
    }
    let symbols = lz77(input);
    let mut out = BitWriter::default();
    // CMF/FLG for deflate, 32 KiB window, level 6: 0x78 0x9c.
    out.bytes.extend_from_slice(&[0x78, 0x9c]);
    flush_final_block(&mut out, input, &symbols);
    out.windup();
    out.bytes.extend_from_slice(&adler32(input).to_be_bytes());
    Some(out.bytes)
}

fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    Literal(u8),
    /// `len` in 3..=258, `dist` in 1..=32768.
    Match {
        len: usize,
        dist: usize,
    },
}

/// The window as zlib sees it for a single fill: the input followed by
/// `WIN_INIT` (= MAX_MATCH) zero bytes. Reads past that return 0 as well.
struct Window<'a> {
    data: &'a [u8],
}

impl Window<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }
}

/// LZ77 parse identical to zlib's `deflate_slow` with level-6 parameters,
/// for an input that fits in one window fill.
fn lz77(input: &[u8]) -> Vec<Symbol> {
    let w = Window { data: input };
    let mut head = vec![NIL; HASH_SIZE];
    // Every inserted position is < input.len() <= MAX_EXACT_INPUT < W_SIZE,
    // so `pos & W_MASK == pos` and the chain table needs one slot per byte.
    let mut prev = vec![NIL; input.len()];
    let mut syms = Vec::with_capacity(input.len());

    let mut ins_h: usize = 0;
    let mut lookahead = input.len();
    if lookahead >= MIN_MATCH {
        // fill_window: "Initialize the hash value now that we have some input".
        ins_h = usize::from(w.at(0));
        ins_h = ((ins_h << HASH_SHIFT) ^ usize::from(w.at(1))) & HASH_MASK;
    }
    let mut strstart = 0usize;
    let mut match_length = MIN_MATCH - 1;
    let mut match_start = 0usize;
    let mut match_available = false;

    while lookahead != 0 {
        let mut hash_head = NIL;
        if lookahead >= MIN_MATCH {
            hash_head = insert_string(&w, &mut head, &mut prev, strstart, &mut ins_h);
        }
        let mut prev_length = match_length;
        let prev_match = match_start;
        match_length = MIN_MATCH - 1;

        if hash_head != NIL
            && prev_length < MAX_LAZY
            && strstart.saturating_sub(hash_head) <= MAX_DIST
        {
            let (len, start) = longest_match(
                &w,
                &prev,
                strstart,
                hash_head,
                prev_length,
                lookahead,
                match_start,
            );
            match_length = len;
            match_start = start;
            if match_length <= 5
                && match_length == MIN_MATCH
                && strstart.saturating_sub(match_start) > TOO_FAR
            {
                match_length = MIN_MATCH - 1;
            }
        }

        if prev_length >= MIN_MATCH && match_length <= prev_length {
            let max_insert = (strstart + lookahead).saturating_sub(MIN_MATCH);
            syms.push(Symbol::Match {
                len: prev_length,
                dist: strstart.saturating_sub(1 + prev_match),
            });
            lookahead = lookahead.saturating_sub(prev_length - 1);
            prev_length -= 2;
            while prev_length != 0 {
                strstart += 1;
                if strstart <= max_insert {
                    insert_string(&w, &mut head, &mut prev, strstart, &mut ins_h);
                }
                prev_length -= 1;
            }
            match_available = false;
            match_length = MIN_MATCH - 1;
            strstart += 1;
        } else if match_available {
            syms.push(Symbol::Literal(w.at(strstart.wrapping_sub(1))));
            strstart += 1;
            lookahead -= 1;
        } else {
            match_available = true;
            strstart += 1;
            lookahead -= 1;
        }
    }
    if match_available {
        syms.push(Symbol::Literal(w.at(strstart.wrapping_sub(1))));
    }
    syms
}

/// zlib's `INSERT_STRING`: roll the hash over `pos + 2`, link `pos` into its
/// hash chain and return the previous chain head.
fn insert_string(
    w: &Window<'_>,
    head: &mut [usize],
    prev: &mut [usize],
    pos: usize,
    ins_h: &mut usize,
) -> usize {
    *ins_h = ((*ins_h << HASH_SHIFT) ^ usize::from(w.at(pos + MIN_MATCH - 1))) & HASH_MASK;
    let hh = head.get(*ins_h).copied().unwrap_or(NIL);
    if let Some(p) = prev.get_mut(pos & W_MASK) {
        *p = hh;
    }
    if let Some(h) = head.get_mut(*ins_h) {
        *h = pos;
    }
    hh
}

/// zlib's `longest_match` (the portable, non-UNALIGNED_OK variant).
/// Returns `(match_length, match_start)`.
fn longest_match(
    w: &Window<'_>,
    prev: &[usize],
    strstart: usize,
    mut cur_match: usize,
    prev_length: usize,
    lookahead: usize,
    mut match_start: usize,
) -> (usize, usize) {
    let mut chain_length = MAX_CHAIN;
    let mut best_len = prev_length;
    let mut nice_match = NICE_LENGTH;
    let limit = if strstart > MAX_DIST {
        strstart - MAX_DIST
    } else {
        NIL
    };
    let strend = strstart + MAX_MATCH;
    let mut scan_end1 = w.at(strstart + best_len - 1);
    let mut scan_end = w.at(strstart + best_len);

    if prev_length >= GOOD_LENGTH {
        chain_length >>= 2;
    }
    if nice_match > lookahead {
        nice_match = lookahead;
    }

    loop {
        let m = cur_match;
        if w.at(m + best_len) == scan_end
            && w.at(m + best_len - 1) == scan_end1
            && w.at(m) == w.at(strstart)
            && w.at(m + 1) == w.at(strstart + 1)
        {
            // Byte 2 is not compared: equal hashes plus equal bytes 0 and 1
            // imply equal byte 2 (zlib relies on the same fact).
            let mut scan = strstart + 2;
            let mut mat = m + 2;
            'outer: loop {
                for _ in 0..8 {
                    scan += 1;
                    mat += 1;
                    if w.at(scan) != w.at(mat) {
                        break 'outer;
                    }
                }
                if scan >= strend {
                    break;
                }
            }
            let len = MAX_MATCH - (strend - scan);
            if len > best_len {
                match_start = cur_match;
                best_len = len;
                if len >= nice_match {
                    break;
                }
                scan_end1 = w.at(strstart + best_len - 1);
                scan_end = w.at(strstart + best_len);
            }
        }
        cur_match = prev.get(cur_match & W_MASK).copied().unwrap_or(NIL);
        if cur_match <= limit {
            break;
        }
        chain_length -= 1;
        if chain_length == 0 {
            break;
        }
    }
    (best_len.min(lookahead), match_start)
}

fn length_code(lc: usize) -> usize {
    // _length_code[255] is overwritten with 28 (length 258 => symbol 285).
    if lc >= 255 {
        return LENGTH_CODES - 1;
    }
    let mut code = 0;
    for (i, &base) in BASE_LENGTH.iter().enumerate().take(LENGTH_CODES - 1) {
        if usize::from(base) <= lc {
            code = i;
        }
    }
    code
}

fn dist_code(d: usize) -> usize {
    let mut code = 0;
    for (i, &base) in BASE_DIST.iter().enumerate() {
        if usize::from(base) <= d {
            code = i;
        }
    }
    code
}

/// One Huffman tree in zlib's `ct_data` layout (unions split into fields).
struct Tree {
    freq: Vec<u32>,
    len: Vec<u16>,
    dad: Vec<usize>,
    code: Vec<u16>,
    max_code: usize,
}

impl Tree {
    fn new() -> Self {
        Tree {
            freq: vec![0; HEAP_SIZE],
            len: vec![0; HEAP_SIZE],
            dad: vec![0; HEAP_SIZE],
            code: vec![0; HEAP_SIZE],
            max_code: 0,
        }
    }
    fn len_at(&self, i: usize) -> u16 {
        self.len.get(i).copied().unwrap_or(0)
    }
    fn freq_at(&self, i: usize) -> u32 {
        self.freq.get(i).copied().unwrap_or(0)
    }
    fn set_len(&mut self, i: usize, v: u16) {
        if let Some(x) = self.len.get_mut(i) {
            *x = v;
        }
    }
    fn add_freq(&mut self, i: usize, v: u32) {
        if let Some(x) = self.freq.get_mut(i) {
            *x = x.wrapping_add(v);
        }
    }
}

/// Static description of a tree kind (zlib's `static_tree_desc`).
struct StaticDesc<'a> {
    static_len: Option<&'a [u16]>,
    extra_bits: &'a [u8],
    extra_base: usize,
    elems: usize,
    max_length: usize,
}

/// Scratch state shared by the tree builders (zlib's deflate_state fields).
struct TreeBuilder {
    heap: Vec<usize>,
    heap_len: usize,
    heap_max: usize,
    depth: Vec<u8>,
    bl_count: [u16; MAX_BITS + 1],
    opt_len: i64,
    static_len: i64,
}

impl TreeBuilder {
    fn new() -> Self {
        TreeBuilder {
            heap: vec![0; HEAP_SIZE + 1],
            heap_len: 0,
            heap_max: HEAP_SIZE,
            depth: vec![0; HEAP_SIZE + 1],
            bl_count: [0; MAX_BITS + 1],
            opt_len: 0,
            static_len: 0,
        }
    }

    fn h(&self, i: usize) -> usize {
        self.heap.get(i).copied().unwrap_or(0)
    }
    fn set_h(&mut self, i: usize, v: usize) {
        if let Some(x) = self.heap.get_mut(i) {
            *x = v;
        }
    }
    fn d(&self, i: usize) -> u8 {
        self.depth.get(i).copied().unwrap_or(0)
    }
    fn set_d(&mut self, i: usize, v: u8) {
        if let Some(x) = self.depth.get_mut(i) {
            *x = v;
        }
    }

    fn smaller(&self, t: &Tree, n: usize, m: usize) -> bool {
        let (fnn, fm) = (t.freq_at(n), t.freq_at(m));
        fnn < fm || (fnn == fm && self.d(n) <= self.d(m))
    }

    fn pqdownheap(&mut self, t: &Tree, mut k: usize) {
        let v = self.h(k);
        let mut j = k << 1;
        while j <= self.heap_len {
            if j < self.heap_len && self.smaller(t, self.h(j + 1), self.h(j)) {
                j += 1;
            }
            if self.smaller(t, v, self.h(j)) {
                break;
            }
            self.set_h(k, self.h(j));
            k = j;
            j <<= 1;
        }
        self.set_h(k, v);
    }

    fn build_tree(&mut self, t: &mut Tree, desc: &StaticDesc<'_>) {
        let stat = |n: usize| -> i64 {
            desc.static_len
                .and_then(|s| s.get(n))
                .map_or(0, |&l| i64::from(l))
        };
        self.heap_len = 0;
        self.heap_max = HEAP_SIZE;
        let mut max_code: isize = -1;
        for n in 0..desc.elems {
            if t.freq_at(n) != 0 {
                self.heap_len += 1;
                self.set_h(self.heap_len, n);
                max_code = n as isize;
                self.set_d(n, 0);
            } else {
                t.set_len(n, 0);
            }
        }
        while self.heap_len < 2 {
            let node = if max_code < 2 {
                max_code += 1;
                max_code as usize
            } else {
                0
            };
            self.heap_len += 1;
            self.set_h(self.heap_len, node);
            if let Some(f) = t.freq.get_mut(node) {
                *f = 1;
            }
            self.set_d(node, 0);
            self.opt_len -= 1;
            if desc.static_len.is_some() {
                self.static_len -= stat(node);
            }
        }
        let max_code = max_code.max(0) as usize;
        t.max_code = max_code;

        let mut n = self.heap_len / 2;
        while n >= 1 {
            self.pqdownheap(t, n);
            n -= 1;
        }

        let mut node = desc.elems;
        loop {
            // pqremove
            let n = self.h(1);
            self.set_h(1, self.h(self.heap_len));
            self.heap_len -= 1;
            self.pqdownheap(t, 1);
            let m = self.h(1);

            self.heap_max -= 1;
            self.set_h(self.heap_max, n);
            self.heap_max -= 1;
            self.set_h(self.heap_max, m);

            let f = t.freq_at(n).wrapping_add(t.freq_at(m));
            if let Some(x) = t.freq.get_mut(node) {
                *x = f;
            }
            let depth = self.d(n).max(self.d(m)).wrapping_add(1);
            self.set_d(node, depth);
            if let Some(x) = t.dad.get_mut(n) {
                *x = node;
            }
            if let Some(x) = t.dad.get_mut(m) {
                *x = node;
            }
            self.set_h(1, node);
            node += 1;
            self.pqdownheap(t, 1);
            if self.heap_len < 2 {
                break;
            }
        }
        self.heap_max -= 1;
        self.set_h(self.heap_max, self.h(1));

        self.gen_bitlen(t, desc);
        gen_codes(t, max_code, &self.bl_count);
    }

    fn gen_bitlen(&mut self, t: &mut Tree, desc: &StaticDesc<'_>) {
        let max_code = t.max_code;
        let max_length = desc.max_length as u16;
        self.bl_count = [0; MAX_BITS + 1];
        let root = self.h(self.heap_max);
        t.set_len(root, 0);
        let mut overflow: i32 = 0;

        for hh in self.heap_max + 1..HEAP_SIZE {
            let n = self.h(hh);
            let dad = t.dad.get(n).copied().unwrap_or(0);
            let mut bits = t.len_at(dad).wrapping_add(1);
            if bits > max_length {
                bits = max_length;
                overflow += 1;
            }
            t.set_len(n, bits);
            if n > max_code {
                continue;
            }
            if let Some(c) = self.bl_count.get_mut(usize::from(bits)) {
                *c += 1;
            }
            let xbits = if n >= desc.extra_base {
                desc.extra_bits
                    .get(n - desc.extra_base)
                    .map_or(0, |&x| i64::from(x))
            } else {
                0
            };
            let f = i64::from(t.freq_at(n));
            self.opt_len += f * (i64::from(bits) + xbits);
            if let Some(st) = desc.static_len {
                let sl = st.get(n).map_or(0, |&l| i64::from(l));
                self.static_len += f * (sl + xbits);
            }
        }
        if overflow == 0 {
            return;
        }

        let ml = desc.max_length;
        loop {
            let mut bits = ml - 1;
            while bits > 0 && self.bl_count[bits] == 0 {
                bits -= 1;
            }
            self.bl_count[bits] = self.bl_count[bits].wrapping_sub(1);
            self.bl_count[bits + 1] = self.bl_count[bits + 1].wrapping_add(2);
            self.bl_count[ml] = self.bl_count[ml].wrapping_sub(1);
            overflow -= 2;
            if overflow <= 0 {
                break;
            }
        }
        let mut hh = HEAP_SIZE;
        for bits in (1..=ml).rev() {
            let mut n = self.bl_count[bits];
            while n != 0 {
                if hh == 0 {
                    return;
                }
                hh -= 1;
                let m = self.h(hh);
                if m > max_code {
                    continue;
                }
                let cur = t.len_at(m);
                if usize::from(cur) != bits {
                    self.opt_len += (bits as i64 - i64::from(cur)) * i64::from(t.freq_at(m));
                    t.set_len(m, bits as u16);
                }
                n -= 1;
            }
        }
    }

    /// zlib's `scan_tree`: count bit-length-code frequencies for `t`.
    fn scan_tree(t: &mut Tree, bl: &mut Tree) {
        let max_code = t.max_code;
        let mut prevlen: i32 = -1;
        let mut nextlen = i32::from(t.len_at(0));
        let mut count = 0u32;
        let (mut max_count, mut min_count) = (7u32, 4u32);
        if nextlen == 0 {
            max_count = 138;
            min_count = 3;
        }
        t.set_len(max_code + 1, 0xffff); // guard
        for n in 0..=max_code {
            let curlen = nextlen;
            nextlen = i32::from(t.len_at(n + 1));
            count += 1;
            if count < max_count && curlen == nextlen {
                continue;
            } else if count < min_count {
                bl.add_freq(curlen as usize, count);
            } else if curlen != 0 {
                if curlen != prevlen {
                    bl.add_freq(curlen as usize, 1);
                }
                bl.add_freq(REP_3_6, 1);
            } else if count <= 10 {
                bl.add_freq(REPZ_3_10, 1);
            } else {
                bl.add_freq(REPZ_11_138, 1);
            }
            count = 0;
            prevlen = curlen;
            if nextlen == 0 {
                max_count = 138;
                min_count = 3;
            } else if curlen == nextlen {
                max_count = 6;
                min_count = 3;
            } else {
                max_count = 7;
                min_count = 4;
            }
        }
    }
}

fn bi_reverse(code: u16, len: u16) -> u16 {
    let mut res = 0u16;
    let mut code = code;
    for _ in 0..len {
        res = (res << 1) | (code & 1);
        code >>= 1;
    }
    res
}

fn gen_codes(t: &mut Tree, max_code: usize, bl_count: &[u16; MAX_BITS + 1]) {
    let mut next_code = [0u16; MAX_BITS + 1];
    let mut code: u16 = 0;
    for bits in 1..=MAX_BITS {
        code = code.wrapping_add(bl_count[bits - 1]) << 1;
        next_code[bits] = code;
    }
    for n in 0..=max_code {
        let len = t.len_at(n);
        if len == 0 {
            continue;
        }
        if let Some(nc) = next_code.get_mut(usize::from(len)) {
            let c = bi_reverse(*nc, len);
            *nc = nc.wrapping_add(1);
            if let Some(x) = t.code.get_mut(n) {
                *x = c;
            }
        }
    }
}

/// Bit sink matching zlib's `send_bits` / `bi_windup` (LSB first).
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    buf: u64,
    nbits: u32,
}

impl BitWriter {
    fn send_bits(&mut self, value: u32, len: u32) {
        let mask = if len >= 32 {
            u32::MAX
        } else {
            (1u32 << len) - 1
        };
        self.buf |= u64::from(value & mask) << self.nbits;
        self.nbits += len;
        while self.nbits >= 8 {
            self.bytes.push((self.buf & 0xff) as u8);
            self.buf >>= 8;
            self.nbits -= 8;
        }
    }
    fn send_code(&mut self, t: &Tree, c: usize) {
        let code = t.code.get(c).copied().unwrap_or(0);
        self.send_bits(u32::from(code), u32::from(t.len_at(c)));
    }
    fn windup(&mut self) {
        if self.nbits > 0 {
            self.bytes.push((self.buf & 0xff) as u8);
        }
        self.buf = 0;
        self.nbits = 0;
    }
}

fn static_ltree() -> Tree {
    let mut t = Tree::new();
    let mut bl_count = [0u16; MAX_BITS + 1];
    for n in 0..L_CODES + 2 {
        let len = match n {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        t.set_len(n, len);
        bl_count[usize::from(len)] += 1;
    }
    gen_codes(&mut t, L_CODES + 1, &bl_count);
    t
}

fn static_dtree() -> Tree {
    let mut t = Tree::new();
    for n in 0..D_CODES {
        t.set_len(n, 5);
        if let Some(c) = t.code.get_mut(n) {
            *c = bi_reverse(n as u16, 5);
        }
    }
    t
}

fn compress_block(out: &mut BitWriter, syms: &[Symbol], ltree: &Tree, dtree: &Tree) {
    for &s in syms {
        match s {
            Symbol::Literal(b) => out.send_code(ltree, usize::from(b)),
            Symbol::Match { len, dist } => {
                let lc = len.saturating_sub(MIN_MATCH);
                let code = length_code(lc);
                out.send_code(ltree, code + LITERALS + 1);
                let extra = u32::from(EXTRA_LBITS[code]);
                if extra != 0 {
                    let v = lc - usize::from(BASE_LENGTH[code]);
                    out.send_bits(v as u32, extra);
                }
                let d = dist.saturating_sub(1);
                let code = dist_code(d);
                out.send_code(dtree, code);
                let extra = u32::from(EXTRA_DBITS[code]);
                if extra != 0 {
                    let v = d - usize::from(BASE_DIST[code]);
                    out.send_bits(v as u32, extra);
                }
            }
        }
    }
    out.send_code(ltree, END_BLOCK);
}

fn send_tree(out: &mut BitWriter, t: &Tree, bl: &Tree, max_code: usize) {
    let mut prevlen: i32 = -1;
    let mut nextlen = i32::from(t.len_at(0));
    let mut count = 0u32;
    let (mut max_count, mut min_count) = (7u32, 4u32);
    if nextlen == 0 {
        max_count = 138;
        min_count = 3;
    }
    for n in 0..=max_code {
        let curlen = nextlen;
        nextlen = i32::from(t.len_at(n + 1));
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        } else if count < min_count {
            while count != 0 {
                out.send_code(bl, curlen as usize);
                count -= 1;
            }
        } else if curlen != 0 {
            if curlen != prevlen {
                out.send_code(bl, curlen as usize);
                count -= 1;
            }
            out.send_code(bl, REP_3_6);
            out.send_bits(count.saturating_sub(3), 2);
        } else if count <= 10 {
            out.send_code(bl, REPZ_3_10);
            out.send_bits(count.saturating_sub(3), 3);
        } else {
            out.send_code(bl, REPZ_11_138);
            out.send_bits(count.saturating_sub(11), 7);
        }
        count = 0;
        prevlen = curlen;
        if nextlen == 0 {
            max_count = 138;
            min_count = 3;
        } else if curlen == nextlen {
            max_count = 6;
            min_count = 3;
        } else {
            max_count = 7;
            min_count = 4;
        }
    }
}

/// zlib's `_tr_flush_block(s, buf, stored_len, last = 1)` for one block.
fn flush_final_block(out: &mut BitWriter, input: &[u8], syms: &[Symbol]) {
    let mut ltree = Tree::new();
    let mut dtree = Tree::new();
    let mut bltree = Tree::new();
    for &s in syms {
        match s {
            Symbol::Literal(b) => ltree.add_freq(usize::from(b), 1),
            Symbol::Match { len, dist } => {
                ltree.add_freq(length_code(len.saturating_sub(MIN_MATCH)) + LITERALS + 1, 1);
                dtree.add_freq(dist_code(dist.saturating_sub(1)), 1);
            }
        }
    }
    ltree.add_freq(END_BLOCK, 1);

    let sl = static_ltree();
    let sd = static_dtree();
    let sl_lens: Vec<u16> = sl.len.iter().copied().take(L_CODES + 2).collect();
    let sd_lens: Vec<u16> = sd.len.iter().copied().take(D_CODES).collect();

    let mut tb = TreeBuilder::new();
    tb.build_tree(
        &mut ltree,
        &StaticDesc {
            static_len: Some(&sl_lens),
            extra_bits: &EXTRA_LBITS,
            extra_base: LITERALS + 1,
            elems: L_CODES,
            max_length: MAX_BITS,
        },
    );
    tb.build_tree(
        &mut dtree,
        &StaticDesc {
            static_len: Some(&sd_lens),
            extra_bits: &EXTRA_DBITS,
            extra_base: 0,
            elems: D_CODES,
            max_length: MAX_BITS,
        },
    );
    // build_bl_tree
    TreeBuilder::scan_tree(&mut ltree, &mut bltree);
    TreeBuilder::scan_tree(&mut dtree, &mut bltree);
    tb.build_tree(
        &mut bltree,
        &StaticDesc {
            static_len: None,
            extra_bits: &EXTRA_BLBITS,
            extra_base: 0,
            elems: BL_CODES,
            max_length: MAX_BL_BITS,
        },
    );
    let mut max_blindex = BL_CODES - 1;
    while max_blindex >= 3 && bltree.len_at(BL_ORDER[max_blindex]) == 0 {
        max_blindex -= 1;
    }
    tb.opt_len += 3 * (max_blindex as i64 + 1) + 5 + 5 + 4;

    let mut opt_lenb = (tb.opt_len + 3 + 7) >> 3;
    let static_lenb = (tb.static_len + 3 + 7) >> 3;
    if static_lenb <= opt_lenb {
        opt_lenb = static_lenb;
    }
    let stored_len = input.len() as i64;

    if stored_len + 4 <= opt_lenb {
        // _tr_stored_block
        out.send_bits(1, 3); // STORED_BLOCK << 1 | last
        out.windup();
        let len = input.len() as u16;
        out.bytes.extend_from_slice(&len.to_le_bytes());
        out.bytes.extend_from_slice(&(!len).to_le_bytes());
        out.bytes.extend_from_slice(input);
    } else if static_lenb == opt_lenb {
        out.send_bits((1 << 1) + 1, 3); // STATIC_TREES
        compress_block(out, syms, &sl, &sd);
    } else {
        out.send_bits((2 << 1) + 1, 3); // DYN_TREES
        let lcodes = ltree.max_code + 1;
        let dcodes = dtree.max_code + 1;
        let blcodes = max_blindex + 1;
        out.send_bits(lcodes.saturating_sub(257) as u32, 5);
        out.send_bits(dcodes.saturating_sub(1) as u32, 5);
        out.send_bits(blcodes.saturating_sub(4) as u32, 4);
        for &idx in BL_ORDER.iter().take(blcodes) {
            out.send_bits(u32::from(bltree.len_at(idx)), 3);
        }
        send_tree(out, &ltree, &bltree, ltree.max_code);
        send_tree(out, &dtree, &bltree, dtree.max_code);
        compress_block(out, syms, &ltree, &dtree);
    }
}
