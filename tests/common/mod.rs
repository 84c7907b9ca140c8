//! Helpers shared by the workspace's quickcheck tests.

use quickcheck::Gen;

/// 64 uniform bits from quickcheck's generator (`u64::arbitrary` favours a few
/// "problem values", which would repeat the same case).
pub fn uniform_u64(g: &mut Gen) -> u64 {
    const BYTES: [u8; 256] = {
        let mut b = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            b[i] = i as u8;
            i += 1;
        }
        b
    };
    (0..8).fold(0, |acc, _| {
        acc << 8 | u64::from(*g.choose(&BYTES).expect("non-empty"))
    })
}
