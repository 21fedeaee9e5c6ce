//! The structural fingerprint of a [`Layout`].
//!
//! The fingerprint is FNV-1a 64 over the layout's canonical encoding (see
//! `codec.rs`: format version, byte order, then every type and field name,
//! kind, size, alignment, offset, `packed` and `align`, length-prefixed so no
//! two layouts give the same bytes), followed by MurmurHash3's 64-bit
//! finaliser so that every input bit spreads to every output bit. Both are
//! written out here, so the value depends on nothing but the layout: not on
//! the Rust version (as `DefaultHasher` would), nor on `type_name` or module
//! paths.

use super::codec::{self, Sink};
use super::Layout;

/// FNV-1a's 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a 64 hasher that the encoder writes into directly, so a
/// fingerprint allocates nothing.
struct Fnv1a(u64);

impl Sink for Fnv1a {
    fn put(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }
}

/// MurmurHash3's `fmix64`: a bijection that makes every output bit depend on
/// every input bit.
const fn finalise(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    hash
}

impl Layout {
    /// A structural 64-bit hash of the descriptor: the struct's and every
    /// field's name, kind, offset, size and alignment, `packed`/`align`, and
    /// this process's byte order.
    ///
    /// Two programs that declare the same struct separately get the same
    /// fingerprint; any difference in a name, a field's type, offset or
    /// order, or the struct's size or alignment gives another. It is stable
    /// across builds and Rust versions (a fixed, hand-written algorithm over
    /// [`encode`](Layout::encode)'s bytes), so it can be stored in a segment
    /// header and compared by another process.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::SharedLayout;
    ///
    /// assert_eq!(u32::LAYOUT.fingerprint(), u32::LAYOUT.fingerprint());
    /// assert_ne!(u32::LAYOUT.fingerprint(), i32::LAYOUT.fingerprint());
    /// ```
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = Fnv1a(FNV_OFFSET_BASIS);
        codec::write_encoding(self, &mut hasher);
        finalise(hasher.0)
    }
}

/// A sink that hashes what the encoder writes and compares it with an
/// encoding read from a segment, in one pass and without allocating.
struct Matcher<'a> {
    hasher: Fnv1a,
    stored: &'a [u8],
    at: usize,
    equal: bool,
}

impl Sink for Matcher<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.hasher.put(bytes);
        if self.equal {
            let end = self.at + bytes.len();
            self.equal = self.stored.get(self.at..end) == Some(bytes);
        }
        self.at += bytes.len();
    }
}

impl Layout {
    /// The [fingerprint](Layout::fingerprint), and whether `stored` is
    /// exactly this layout's [encoding](Layout::encode): one walk over the
    /// layout, no allocation. The check a segment opener makes.
    pub(crate) fn fingerprint_and_match(&self, stored: &[u8]) -> (u64, bool) {
        let mut matcher = Matcher {
            hasher: Fnv1a(FNV_OFFSET_BASIS),
            stored,
            at: 0,
            equal: true,
        };
        codec::write_encoding(self, &mut matcher);
        let equal = matcher.equal && matcher.at == stored.len();
        (finalise(matcher.hasher.0), equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::SharedLayout;

    /// The fingerprint of an encoding given as bytes.
    fn fingerprint_of(bytes: &[u8]) -> u64 {
        let mut hasher = Fnv1a(FNV_OFFSET_BASIS);
        hasher.put(bytes);
        finalise(hasher.0)
    }

    /// A struct declared as `Point` with `fields`, in a module of its own,
    /// so that several can share the name.
    macro_rules! point {
        ($module:ident, #[repr($($repr:tt)*)] { $($fields:tt)* }) => {
            mod $module {
                #[derive(crate::SharedLayout)]
                #[repr($($repr)*)]
                #[allow(dead_code)] // only its layout is used
                pub(super) struct Point { $($fields)* }
            }
        };
    }

    point!(first, #[repr(C)] { x: f64, y: f64 });
    point!(second, #[repr(C)] { x: f64, y: f64 });
    point!(renamed, #[repr(C)] { x: f64, z: f64 });
    point!(swapped, #[repr(C)] { y: f64, x: f64 });
    point!(retyped, #[repr(C)] { x: f64, y: i64 });
    point!(aligned, #[repr(C, align(32))] { x: f64, y: f64 });

    #[derive(crate::SharedLayout)]
    #[repr(C)]
    #[allow(dead_code)] // only its layout is used
    struct Other {
        x: f64,
        y: f64,
    }

    mod loose {
        #[derive(crate::SharedLayout)]
        #[repr(C)]
        #[allow(dead_code)] // only its layout is used
        pub(super) struct Mixed {
            a: u8,
            b: u32,
        }
    }

    mod tight {
        #[derive(crate::SharedLayout)]
        #[repr(C, packed(2))]
        #[allow(dead_code)] // only its layout is used
        pub(super) struct Mixed {
            a: u8,
            b: u32,
        }
    }

    #[test]
    fn separately_declared_identical_structs_agree() {
        assert_eq!(
            first::Point::LAYOUT.fingerprint(),
            second::Point::LAYOUT.fingerprint()
        );
        assert_eq!(
            <[first::Point; 3]>::LAYOUT.fingerprint(),
            <[second::Point; 3]>::LAYOUT.fingerprint()
        );
    }

    #[test]
    fn decoded_descriptors_agree_with_their_source() {
        let decoded = Layout::decode(&first::Point::LAYOUT.encode()).unwrap();
        assert_eq!(decoded.fingerprint(), first::Point::LAYOUT.fingerprint());
    }

    #[test]
    fn every_change_disagrees() {
        let point = first::Point::LAYOUT.fingerprint();
        for (change, layout) in [
            ("field renamed", renamed::Point::LAYOUT),
            ("fields swapped", swapped::Point::LAYOUT),
            ("field type changed", retyped::Point::LAYOUT),
            ("struct renamed", Other::LAYOUT),
            (
                "size and alignment changed by align(32)",
                aligned::Point::LAYOUT,
            ),
        ] {
            assert_ne!(layout.fingerprint(), point, "{change}");
        }
        assert_eq!(
            (
                aligned::Point::LAYOUT.size(),
                aligned::Point::LAYOUT.align()
            ),
            (32, 32)
        );
        // Same names and types, offset of `b` moved from 4 to 2 by packing.
        assert_eq!(loose::Mixed::LAYOUT.fields()[1].offset(), 4);
        assert_eq!(tight::Mixed::LAYOUT.fields()[1].offset(), 2);
        assert_ne!(
            loose::Mixed::LAYOUT.fingerprint(),
            tight::Mixed::LAYOUT.fingerprint()
        );
    }

    #[test]
    fn every_kind_disagrees_with_every_other() {
        let layouts: Vec<&Layout> = vec![
            u8::LAYOUT,
            i8::LAYOUT,
            u32::LAYOUT,
            f32::LAYOUT,
            i32::LAYOUT,
            std::sync::atomic::AtomicU32::LAYOUT,
            std::sync::atomic::AtomicI32::LAYOUT,
            <[u8; 4]>::LAYOUT,
            <[i8; 4]>::LAYOUT,
            <[[u8; 2]; 2]>::LAYOUT,
            <[u16; 2]>::LAYOUT,
            crate::ByteString::<4>::LAYOUT,
            crate::ByteString::<5>::LAYOUT,
            first::Point::LAYOUT,
        ];
        for (i, a) in layouts.iter().enumerate() {
            for b in &layouts[i + 1..] {
                assert_ne!(a.fingerprint(), b.fingerprint(), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn the_fingerprint_hashes_the_encoding_byte_order_included() {
        let mut bytes = first::Point::LAYOUT.encode();
        assert_eq!(fingerprint_of(&bytes), first::Point::LAYOUT.fingerprint());
        // A reader of the other byte order sees another byte, so another
        // fingerprint.
        bytes[1] ^= 0b11;
        assert_ne!(fingerprint_of(&bytes), first::Point::LAYOUT.fingerprint());
    }

    /// The values are part of the segment format: other processes, built by
    /// other compilers, compare them. A change here breaks compatibility.
    #[test]
    #[cfg(target_endian = "little")]
    fn fingerprints_are_pinned() {
        // FNV-1a 64 of the empty input is its offset basis.
        assert_eq!(fingerprint_of(&[]), finalise(FNV_OFFSET_BASIS));
        assert_eq!(Fnv1a(FNV_OFFSET_BASIS).0, 0xcbf2_9ce4_8422_2325);
        let mut a = Fnv1a(FNV_OFFSET_BASIS);
        a.put(b"a");
        // The published FNV-1a 64 test vector for "a".
        assert_eq!(a.0, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(u32::LAYOUT.fingerprint(), PINNED_U32);
        assert_eq!(first::Point::LAYOUT.fingerprint(), PINNED_POINT);
    }

    const PINNED_U32: u64 = 0x22eee510a3d65da7;
    const PINNED_POINT: u64 = 0xa058c696357eebcf;
}
